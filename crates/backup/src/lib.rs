//! backup: a DocumentDB cluster snapshot with a 7-day rotation, and a CloudWatch Logs export to
//! S3 (expired after 7 days by the bucket's rule), on a daily schedule or on demand.
//!
//! The pipeline, module by module (pure modules start with `// pure:`):
//!
//! * [`event`] (pure): the trigger, validated: a scheduled slot near the clock, or a manual
//!   payload;
//! * the run lease and the run's record in the ledger ([`run`], rules in [`progress`], pure):
//!   one run at a time, and a retry resumes instead of repeating;
//! * [`observe`]: the reads (snapshots, tags, lifecycle, checkpoints, export tasks);
//! * the pure steps: [`rotation`] (which snapshots go), [`windows`] and [`expiry`] (which days
//!   to export, whether exports expire), [`exports`] (one group's export as a state machine);
//! * [`act`]: the writes; [`journal`] (pure): the one triage of every call's result;
//! * the two runs, [`database`] and [`logs`];
//! * [`report`] (pure): the typed decision, the Notice, the heartbeat metrics.

pub mod act;
pub mod config;
pub mod database;
pub mod event;
pub mod expiry;
pub mod export_steps;
pub mod exports;
pub mod journal;
pub mod logs;
pub mod observe;
pub mod progress;
pub mod report;
pub mod rotation;
pub mod run;
pub mod windows;

#[cfg(test)]
mod tests;

use std::time::Duration as StdDuration;

use phoenix_core::{
    Action, ActionStatus, Claim, Function, Invocation, Ledger, NoticePublisher, Outcome,
    RetryableError, SdkConfig, Vars, console,
};
use serde_json::{Value, json};

pub use crate::config::Config;
use crate::event::{NotHandled, Trigger};
use crate::journal::{Final, Journal};
use crate::progress::RunStage;
use crate::report::{Decision, Links, Summary};
use crate::run::{RunContext, RunProgress};

/// Time kept back from the invocation's time left for reporting after the last wait.
pub const REPORT_RESERVE: StdDuration = StdDuration::from_secs(5);

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub docdb: aws_sdk_docdb::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            docdb: aws_sdk_docdb::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        }
    }
}

pub struct Backup {
    pub config: Config,
    pub clients: Clients,
    pub ledger: Ledger,
}

impl Backup {
    pub fn new(config: Config, clients: Clients) -> Self {
        let ledger = Ledger::new(clients.dynamodb.clone(), &config.ledger_table);
        Self {
            config,
            clients,
            ledger,
        }
    }

    fn links(&self) -> Links {
        let region = self
            .clients
            .docdb
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "eu-west-1".to_owned());
        Links {
            snapshots: console::docdb_snapshots(&region),
            exports: console::s3_prefix(
                &region,
                &self.config.bucket,
                &format!("{}/", self.config.export_prefix),
            ),
        }
    }

    /// Under the lease: the run's record, the work, the report.
    async fn leased(
        &self,
        ctx: &RunContext,
        mut journal: Journal,
    ) -> Result<Outcome, RetryableError> {
        let read = journal.triage(
            RunProgress::read(&self.ledger, &self.config.cluster, ctx).await,
            Final::Fails("backup not run: the run's ledger entry could not be read"),
        )?;
        let Some((mut progress, problem)) = read else {
            return self.report(ctx, journal, None, None).await;
        };
        if let Some(problem) = problem {
            journal.warn(problem);
        }
        journal.observe("record", json!(progress.record));
        if progress.record.stage == RunStage::Notified {
            return Ok(self.already_done(ctx, journal, &progress));
        }
        progress.record.seed(&mut journal.summary);
        let lag = match self.work(ctx, Some(&mut progress), &mut journal).await {
            Ok(lag) => lag,
            Err(error) => {
                // best effort: the retry then counts what this attempt did
                progress.record.update(&journal.summary, RunStage::Running);
                progress.record.deleting = std::mem::take(&mut journal.in_flight);
                let _ = progress.save().await;
                return Err(error);
            }
        };
        progress.record.update(&journal.summary, RunStage::Finished);
        journal.triage(
            progress.save().await,
            Final::Warns("the run's progress was not recorded in the ledger"),
        )?;
        self.report(ctx, journal, lag, Some(&mut progress)).await
    }

    /// The two parts, as requested.
    async fn work(
        &self,
        ctx: &RunContext,
        progress: Option<&mut RunProgress<'_>>,
        journal: &mut Journal,
    ) -> Result<Option<f64>, RetryableError> {
        if ctx.request.database {
            database::run(self, ctx, progress, journal).await?;
        } else {
            journal.act(
                "rds:CreateDBClusterSnapshot",
                &self.config.cluster,
                ActionStatus::Skipped,
                "database not requested",
            );
            journal
                .summary
                .skipped
                .push("database: not requested".to_owned());
        }
        if ctx.request.logs {
            logs::run(self, ctx, journal).await
        } else {
            logs::not_requested(self, journal);
            Ok(None)
        }
    }

    fn outcome(&self, ctx: &RunContext, mut journal: Journal) -> Outcome {
        let mut outcome = Outcome::handled(Self::NAME, Some(&ctx.request.event_id), ctx.dry_run);
        outcome.actions = std::mem::take(&mut journal.actions);
        journal.observe("summary", json!(journal.summary));
        outcome.observed(Value::Object(journal.observed))
    }

    /// The Notice, the heartbeat metrics and the Outcome of a run that did its work.
    async fn report(
        &self,
        ctx: &RunContext,
        journal: Journal,
        lag: Option<f64>,
        progress: Option<&mut RunProgress<'_>>,
    ) -> Result<Outcome, RetryableError> {
        let summary = journal.summary.clone();
        let notice = report::build_notice(
            &summary,
            Self::NAME,
            &ctx.request.event_id,
            ctx.request.reason.as_deref(),
            &self.links(),
            ctx.now,
        );
        let mut outcome = self.outcome(ctx, journal);
        NoticePublisher::new(self.clients.sns.clone(), &self.config.alerts_topic_arn)
            .deliver(notice, &mut outcome, ctx.dry_run, true)
            .await?;
        if let Some(progress) = progress {
            progress.record.stage = RunStage::Notified;
            // The Notice is out: a failure here is only told, never retried (a retry would
            // publish the Notice again).
            if let Err(failure) = progress.save().await {
                outcome.action(
                    Action::new(
                        &failure.call,
                        failure.resource.clone(),
                        ActionStatus::Failed,
                    )
                    .detail(format!("the run is not marked reported: {failure}")),
                );
            }
        }
        outcome.metrics = report::heartbeat_metrics(&summary, lag);
        Ok(outcome.decided(Decision::of(&summary).slug(), summary.line()))
    }

    /// This run finished and was reported already: nothing done, nothing said again.
    fn already_done(
        &self,
        ctx: &RunContext,
        journal: Journal,
        progress: &RunProgress<'_>,
    ) -> Outcome {
        let at = progress.written_at.unwrap_or(ctx.now);
        let reason = report::already_done_reason(at, progress.record.line.as_deref());
        self.outcome(ctx, journal)
            .decided(Decision::AlreadyDone.slug(), reason)
    }

    /// Another run holds the lease: nothing done. A skipped scheduled run is told to people.
    async fn held(
        &self,
        ctx: &RunContext,
        mut journal: Journal,
        holder: report::Holder,
    ) -> Result<Outcome, RetryableError> {
        journal.observe("lease", json!(holder));
        let reason = report::held_reason(&holder);
        let mut outcome = self.outcome(ctx, journal);
        if let Trigger::Scheduled { slot } = &ctx.request.trigger
            && !holder.same_run
        {
            let notice = report::skipped_notice(
                &self.config.cluster,
                &event::slot_label(*slot, self.config.schedule_hours),
                &holder,
                Self::NAME,
                &ctx.request.event_id,
                &self.links(),
                ctx.now,
            );
            NoticePublisher::new(self.clients.sns.clone(), &self.config.alerts_topic_arn)
                .deliver(notice, &mut outcome, false, true)
                .await?;
        }
        Ok(outcome.decided(Decision::AnotherRunInProgress.slug(), reason))
    }
}

impl Function for Backup {
    const NAME: &'static str = "backup";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        config::read(vars)
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let period = self.config.schedule_hours;
        let request = match event::parse(
            &invocation.payload,
            &invocation.request_id,
            invocation.now,
            period,
        ) {
            Ok(request) => request,
            Err(NotHandled::Ignored(why)) => {
                let id = event::event_id(&invocation.payload);
                return Ok(Outcome::ignored(Self::NAME, id, why));
            }
            Err(NotHandled::Rejected(why)) => {
                let id = Some(invocation.request_id.as_str());
                return Ok(Outcome::rejected(Self::NAME, id, why));
            }
        };
        let ctx = RunContext {
            run_id: request.run_id(period),
            request_id: invocation.request_id.clone(),
            dry_run: self.config.dry_run || request.dry_run,
            now: invocation.now,
            deadline: tokio::time::Instant::now()
                + invocation.time_left.saturating_sub(REPORT_RESERVE),
            request,
        };
        let mut journal = Journal::new(Summary {
            cluster: self.config.cluster.clone(),
            dry_run: ctx.dry_run,
            ..Summary::default()
        });
        let slot = match &ctx.request.trigger {
            Trigger::Scheduled { slot } => Some(slot.to_rfc3339()),
            Trigger::Manual { .. } => None,
        };
        journal.observe("trigger", json!(ctx.request.kind()));
        journal.observe("slot", json!(slot));
        journal.observe("run", json!(ctx.run_id));
        journal.observe("reason", json!(ctx.request.reason));
        journal.observe(
            "parts",
            json!({"database": ctx.request.database, "logs": ctx.request.logs}),
        );
        if ctx.dry_run {
            // A dry run leaves no trace in the ledger that could stop a real run.
            let lag = self.work(&ctx, None, &mut journal).await?;
            return self.report(&ctx, journal, lag, None).await;
        }

        // One run at a time: the lease, or nothing done.
        let claim = journal.triage(
            run::claim_lease(
                &self.ledger,
                &self.config.cluster,
                &ctx,
                invocation.time_left,
            )
            .await,
            Final::Fails("backup not run: the run lease could not be taken"),
        )?;
        let (by, until) = match claim {
            None => return self.report(&ctx, journal, None, None).await,
            Some(Claim::Acquired) => {
                let result = self.leased(&ctx, journal).await;
                if let Err(failure) =
                    run::release_lease(&self.ledger, &self.config.cluster, &ctx).await
                {
                    tracing::warn!(error = %failure, "the run lease was not released: it runs out by itself");
                }
                return result;
            }
            Some(Claim::Held { until, by }) => (by, until),
            Some(Claim::Done { at, note }) => (format!("{note} (marked done)"), at),
        };
        // held: a delivery of a run that is already done and reported only says so
        if let Ok((progress, _)) = RunProgress::read(&self.ledger, &self.config.cluster, &ctx).await
            && progress.record.stage == RunStage::Notified
        {
            return Ok(self.already_done(&ctx, journal, &progress));
        }
        let holder = progress::holder(&by, until, &ctx.run_id);
        self.held(&ctx, journal, holder).await
    }
}
