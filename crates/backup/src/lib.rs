//! backup: a DocumentDB cluster snapshot with a 7-day rotation, and a CloudWatch Logs export to
//! S3 (expired after 7 days by the bucket's rule), on a daily schedule or on demand.
//!
//! `request` ([`request::parse`]) → observe (DescribeDBClusterSnapshots, tags, checkpoints,
//! lifecycle) → decide ([`rotation::plan_rotation`], [`exports::plan_windows`],
//! [`exports::check_expiry`]) → act ([`database`], [`log_export`]) → report
//! ([`report::build_notice`]).

pub mod database;
pub mod exports;
pub mod log_export;
pub mod report;
pub mod request;
pub mod rotation;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use phoenix_core::SdkConfig;
use phoenix_core::metrics::Metric;
use phoenix_core::{
    Action, ActionStatus, AwsFailure, Function, Invocation, NoticePublisher, Outcome,
    RetryableError, Vars, console,
};
use serde_json::{Value, json};

use crate::exports::{Checkpoint, ExportStatus, PendingExport};
use crate::report::{Links, SnapshotResult, Summary};
use crate::request::{BackupRequest, NotHandled, Trigger};
use crate::rotation::{CREATED_BY_KEY, CREATED_BY_VALUE, SnapshotRetention};

/// Time kept back from the invocation's time left for reporting after the last wait.
pub const REPORT_RESERVE: StdDuration = StdDuration::from_secs(5);

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DocumentDB cluster to snapshot.
    pub cluster: String,
    /// Where exports and checkpoints go.
    pub bucket: String,
    pub log_groups: Vec<String>,
    pub export_prefix: String,
    pub export_lag: Duration,
    pub retention: SnapshotRetention,
    /// Length of one schedule period (the slot of a scheduled event), hours.
    pub schedule_hours: u32,
    pub alerts_topic_arn: String,
    pub dry_run: bool,
}

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub docdb: aws_sdk_docdb::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            docdb: aws_sdk_docdb::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

pub struct Backup {
    pub config: Config,
    pub clients: Clients,
}

/// One run's record: the Outcome being built, the Summary for the Notice, what was observed.
struct Run<'a> {
    request: &'a BackupRequest,
    dry_run: bool,
    now: DateTime<Utc>,
    deadline: tokio::time::Instant,
    outcome: Outcome,
    summary: Summary,
    observed: serde_json::Map<String, Value>,
}

impl Run<'_> {
    fn act(
        &mut self,
        call: &str,
        target: impl Into<String>,
        status: ActionStatus,
        detail: impl Into<String>,
    ) {
        self.outcome
            .action(Action::new(call, target, status).detail(detail));
    }

    /// An export left for the next run: a skipped action saying why, and a line in the Notice.
    fn left_for_next_run(&mut self, call: &str, target: &str, why: &str, left: String) {
        self.act(
            call,
            target,
            ActionStatus::Skipped,
            format!("left for the next run: {why}"),
        );
        self.summary.exports_left.push(left);
    }

    /// A final failure: recorded, reported; the run goes on where it can.
    fn failed(&mut self, failure: &AwsFailure, what: &str) {
        self.act(
            &failure.call,
            failure.resource.clone(),
            ActionStatus::Failed,
            failure.to_string(),
        );
        self.summary.failures.push(format!("{what}: {failure}"));
    }
}

impl Backup {
    pub fn new(config: Config, clients: Clients) -> Self {
        Self { config, clients }
    }

    fn region(&self) -> String {
        self.clients
            .docdb
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "eu-west-1".to_owned())
    }

    /// Snapshot, then rotation.
    async fn database(&self, run: &mut Run<'_>) -> Result<(), RetryableError> {
        let cluster = &self.config.cluster;
        let docdb = &self.clients.docdb;
        let id = request::snapshot_id(cluster, &run.request.trigger, self.config.schedule_hours);
        let prefix = request::snapshot_prefix(cluster);

        // observe: every manual snapshot of the region, then the tags the rule needs
        let (mut snapshots, pages) = match database::manual_snapshots(docdb).await {
            Ok(found) => found,
            Err(failure) if failure.retryable => return Err(failure.into()),
            Err(failure) => {
                // No rotation without the facts; the snapshot is still taken.
                run.failed(&failure, "rotation skipped (snapshots not listed)");
                return self.create(run, &id, false).await;
            }
        };
        let tag_ids =
            rotation::tags_needed(&snapshots, cluster, &prefix, run.now, self.config.retention);
        let mut tag_calls = 0;
        for snapshot in snapshots.iter_mut().filter(|s| tag_ids.contains(&s.id)) {
            tag_calls += 1;
            match database::tags_of(docdb, snapshot).await {
                Ok(tags) => snapshot.tags = Some(tags),
                Err(failure) if failure.retryable => return Err(failure.into()),
                // Unreadable tags: the snapshot is not known to be ours, so it is kept.
                Err(failure) => run
                    .summary
                    .warnings
                    .push(format!("tags unreadable, snapshot kept: {failure}")),
            }
        }
        let exists = snapshots
            .iter()
            .any(|s| s.id == id && s.cluster == *cluster);
        let plan = rotation::plan_rotation(
            &snapshots,
            cluster,
            run.now,
            self.config.retention,
            usize::from(!exists),
        );
        run.observed.insert(
            "snapshots".into(),
            json!({
                "manual_in_region": plan.manual_in_region,
                "pages": pages,
                "tag_reads": tag_calls,
                "newest_available": plan.newest_available,
                "verdicts": plan.verdicts,
            }),
        );
        if let Some(warning) = &plan.quota_warning {
            run.summary.warnings.push(warning.clone());
        }

        // act: the new snapshot first, then the rotation
        self.create(run, &id, exists).await?;
        let deletions = plan.to_delete();
        let mut stopped: Option<String> = None;
        for verdict in deletions {
            if let Some(why) = &stopped {
                run.act(
                    "rds:DeleteDBClusterSnapshot",
                    &verdict.id,
                    ActionStatus::Skipped,
                    format!("kept: {why}"),
                );
                run.summary.kept_after_failure.push(verdict.id.clone());
                continue;
            }
            if run.dry_run {
                run.act(
                    "rds:DeleteDBClusterSnapshot",
                    &verdict.id,
                    ActionStatus::DryRun,
                    &verdict.reason,
                );
                run.summary.deleted.push(verdict.id.clone());
                continue;
            }
            match database::delete_snapshot(docdb, &verdict.id).await {
                Ok(database::Deleted::Deleted) => {
                    run.act(
                        "rds:DeleteDBClusterSnapshot",
                        &verdict.id,
                        ActionStatus::Done,
                        &verdict.reason,
                    );
                    run.summary.deleted.push(verdict.id.clone());
                }
                Ok(database::Deleted::AlreadyGone) => {
                    run.act(
                        "rds:DeleteDBClusterSnapshot",
                        &verdict.id,
                        ActionStatus::Done,
                        "already gone",
                    );
                }
                Err(failure) if failure.retryable => return Err(failure.into()),
                Err(failure) => {
                    run.failed(&failure, "rotation stopped");
                    stopped = Some(format!("rotation stopped after {} failed", verdict.id));
                }
            }
        }
        Ok(())
    }

    async fn create(
        &self,
        run: &mut Run<'_>,
        id: &str,
        exists: bool,
    ) -> Result<(), RetryableError> {
        const CALL: &str = "rds:CreateDBClusterSnapshot";
        if exists {
            run.act(
                CALL,
                id,
                ActionStatus::Skipped,
                "already exists (this slot was backed up): nothing new created",
            );
            run.summary.snapshot = Some(SnapshotResult::AlreadyExisted(id.to_owned()));
            return Ok(());
        }
        let (trigger_key, trigger_value) = match &run.request.trigger {
            Trigger::Scheduled { slot } => ("scheduled", slot.to_rfc3339()),
            Trigger::Manual { request_id, .. } => ("manual", request_id.clone()),
        };
        if run.dry_run {
            run.act(
                CALL,
                id,
                ActionStatus::DryRun,
                format!("would create, tagged {CREATED_BY_KEY}={CREATED_BY_VALUE}"),
            );
            run.summary.snapshot = Some(SnapshotResult::WouldCreate(id.to_owned()));
            return Ok(());
        }
        let tags = [
            (CREATED_BY_KEY, CREATED_BY_VALUE.to_owned()),
            ("phoenix-ops:trigger", trigger_key.to_owned()),
            (
                if trigger_key == "scheduled" {
                    "phoenix-ops:slot"
                } else {
                    "phoenix-ops:request-id"
                },
                tag_value(&trigger_value),
            ),
        ];
        match database::create_snapshot(&self.clients.docdb, &self.config.cluster, id, &tags).await
        {
            Ok(database::Created::New) => {
                run.act(
                    CALL,
                    id,
                    ActionStatus::Done,
                    format!(
                        "created from {}, tagged {CREATED_BY_KEY}={CREATED_BY_VALUE}",
                        self.config.cluster
                    ),
                );
                run.summary.snapshot = Some(SnapshotResult::Created(id.to_owned()));
                run.outcome
                    .metrics
                    .push(Metric::count("SnapshotsCreated", 1.0));
                Ok(())
            }
            Ok(database::Created::AlreadyExists) => {
                run.act(
                    CALL,
                    id,
                    ActionStatus::Done,
                    "already exists (repeated delivery of this slot): success, nothing new",
                );
                run.summary.snapshot = Some(SnapshotResult::AlreadyExisted(id.to_owned()));
                Ok(())
            }
            Err(failure) if failure.retryable => Err(failure.into()),
            Err(failure) => {
                run.failed(&failure, "snapshot not created");
                run.summary.snapshot = Some(SnapshotResult::Failed(id.to_owned()));
                Ok(())
            }
        }
    }

    /// The expiry check, then the exports, one at a time.
    async fn logs(&self, run: &mut Run<'_>) -> Result<(), RetryableError> {
        let s3 = &self.clients.s3;
        let bucket = &self.config.bucket;
        match log_export::lifecycle_rules(s3, bucket).await {
            Ok(rules) => match exports::check_expiry(&rules, &self.config.export_prefix) {
                Ok(ok) => {
                    run.observed.insert("lifecycle".into(), json!({"ok": ok}));
                }
                Err(drift) => {
                    run.observed
                        .insert("lifecycle".into(), json!({"drift": drift}));
                    run.summary.warnings.push(format!("s3://{bucket}: {drift}"));
                }
            },
            Err(failure) if failure.retryable => return Err(failure.into()),
            Err(failure) => run.summary.warnings.push(format!(
                "cannot check the bucket's lifecycle rule: {failure}"
            )),
        }
        if self.config.log_groups.is_empty() {
            run.summary
                .skipped
                .push("logs: LOG_GROUPS is empty".to_owned());
            return Ok(());
        }
        let mut groups_observed = Vec::new();
        let mut stop: Option<String> = None;
        for group in &self.config.log_groups {
            if let Some(why) = &stop {
                run.left_for_next_run(
                    "logs:CreateExportTask",
                    group,
                    why,
                    format!("{group}: {why}"),
                );
                continue;
            }
            let result = self.export_group(run, group, &mut groups_observed).await?;
            if let GroupResult::StopAll(why) = result {
                stop = Some(why);
            }
        }
        run.observed
            .insert("exports".into(), Value::Array(groups_observed));
        Ok(())
    }

    async fn export_group(
        &self,
        run: &mut Run<'_>,
        group: &str,
        observed: &mut Vec<Value>,
    ) -> Result<GroupResult, RetryableError> {
        let s3 = &self.clients.s3;
        let bucket = &self.config.bucket;
        let key = exports::checkpoint_key(group);
        let checkpoint = match log_export::read_checkpoint(s3, bucket, &key).await {
            Ok(None) => None,
            Ok(Some(text)) => match serde_json::from_str::<Checkpoint>(&text) {
                Ok(cp) => Some(cp),
                Err(e) => {
                    let failure = AwsFailure::new(
                        "s3:GetObject",
                        format!("s3://{bucket}/{key}"),
                        phoenix_core::aws::FailureKind::Response,
                        None,
                        format!("the checkpoint is not valid JSON ({e}): fix or delete it"),
                        None,
                    );
                    run.failed(&failure, &format!("{group} not exported"));
                    return Ok(GroupResult::Continue);
                }
            },
            Err(failure) if failure.retryable => return Err(failure.into()),
            Err(failure) => {
                run.failed(&failure, &format!("{group} not exported"));
                return Ok(GroupResult::Continue);
            }
        };
        let mut exported_until = checkpoint.as_ref().map(|c| c.exported_until);
        let mut last_task = checkpoint.as_ref().and_then(|c| c.last_task_id.clone());

        // An export started by an earlier run that ran out of time.
        if let Some(pending) = checkpoint.as_ref().and_then(|c| c.pending.clone()) {
            let (status, message) =
                match log_export::export_status(&self.clients.logs, &pending.task_id).await {
                    Ok(s) => s,
                    Err(failure) if failure.retryable => return Err(failure.into()),
                    Err(failure) => {
                        run.failed(&failure, &format!("{group} not exported"));
                        return Ok(GroupResult::Continue);
                    }
                };
            if status.in_progress() {
                let why = format!(
                    "export task {} ({group} {}) is still {status}",
                    pending.task_id,
                    pending.window.date()
                );
                run.left_for_next_run(
                    "logs:DescribeExportTasks",
                    &pending.task_id,
                    &why,
                    why.clone(),
                );
                return Ok(GroupResult::StopAll(why));
            }
            if status == ExportStatus::Completed {
                if !run.dry_run {
                    self.checkpoint(
                        run,
                        group,
                        pending.window.to,
                        Some(pending.task_id.clone()),
                        None,
                    )
                    .await?;
                }
                run.summary
                    .exports_completed
                    .push(format!("{group} {}", pending.window.date()));
                run.act(
                    "logs:DescribeExportTasks",
                    &pending.task_id,
                    ActionStatus::Done,
                    format!(
                        "earlier export of {group} {} completed",
                        pending.window.date()
                    ),
                );
                exported_until = Some(pending.window.to);
                last_task = Some(pending.task_id.clone());
            } else {
                run.summary.warnings.push(format!("earlier export task {} of {group} ended {status}: {message}; exporting its window again", pending.task_id));
            }
        }

        let plan = exports::plan_windows(exported_until, run.now, self.config.export_lag);
        observed.push(json!({"log_group": group, "exported_until": exported_until, "plan": plan}));
        if let Some(skipped) = &plan.skipped {
            run.summary.warnings.push(format!("{group}: {skipped}"));
        }
        if let Some(why) = &plan.nothing_because {
            run.act(
                "logs:CreateExportTask",
                group,
                ActionStatus::Skipped,
                why.clone(),
            );
            return Ok(GroupResult::Continue);
        }
        for window in &plan.windows {
            let prefix = exports::destination_prefix(&self.config.export_prefix, group, window);
            let target = format!("{group} {}", window.date());
            let range = format!("{} .. {}", window.from.to_rfc3339(), window.to.to_rfc3339());
            if run.dry_run {
                run.act(
                    "logs:CreateExportTask",
                    &target,
                    ActionStatus::DryRun,
                    format!("would export {range} to s3://{bucket}/{prefix}/"),
                );
                run.summary.exports_completed.push(target);
                continue;
            }
            if run
                .deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .is_zero()
            {
                let why = "no time left in this invocation".to_owned();
                run.left_for_next_run(
                    "logs:CreateExportTask",
                    &target,
                    &why,
                    format!("{target}: {why}"),
                );
                return Ok(GroupResult::StopAll(why));
            }
            let name = exports::task_name(group, window);
            let task_id = match log_export::start_export(
                &self.clients.logs,
                group,
                window,
                bucket,
                &prefix,
                &name,
            )
            .await
            {
                Ok(id) => id,
                Err(failure) if failure.is_code("LimitExceededException") => {
                    let why =
                        "another export task is running in the account (LimitExceededException)"
                            .to_owned();
                    run.left_for_next_run(
                        "logs:CreateExportTask",
                        &target,
                        &why,
                        format!("{target}: {why}"),
                    );
                    return Ok(GroupResult::StopAll(why));
                }
                Err(failure) if failure.retryable => return Err(failure.into()),
                Err(failure) => {
                    run.failed(&failure, &format!("{target} not exported"));
                    return Ok(GroupResult::Continue);
                }
            };
            let waited = match self.wait_for(run, &task_id).await {
                Ok(waited) => waited,
                Err(failure) if failure.retryable => return Err(failure.into()),
                Err(failure) => {
                    // Started but not followed: remembered as pending, checked by the next run.
                    run.failed(
                        &failure,
                        &format!("{target} export started but not followed"),
                    );
                    let pending = PendingExport {
                        task_id,
                        window: *window,
                    };
                    let until = exported_until.unwrap_or(window.from);
                    self.checkpoint(run, group, until, last_task.clone(), Some(pending))
                        .await?;
                    return Ok(GroupResult::StopAll(format!(
                        "export task of {target} not followed"
                    )));
                }
            };
            match waited {
                (ExportStatus::Completed, _) => {
                    let listed =
                        log_export::objects_under(&self.clients.s3, bucket, &format!("{prefix}/"))
                            .await;
                    let objects = match listed {
                        Ok((n, bytes, more)) => format!(
                            "{n}{} object(s), {bytes} bytes",
                            if more { "+" } else { "" }
                        ),
                        Err(failure) if failure.retryable => return Err(failure.into()),
                        Err(failure) => format!("objects not listed ({failure})"),
                    };
                    run.act("logs:CreateExportTask", &target, ActionStatus::Done, format!("task {task_id} completed: {range} → s3://{bucket}/{prefix}/ ({objects})"));
                    run.outcome
                        .metrics
                        .push(Metric::count("LogExportsCompleted", 1.0));
                    run.summary.exports_completed.push(target);
                    let written = self
                        .checkpoint(run, group, window.to, Some(task_id.clone()), None)
                        .await?;
                    if !written {
                        // Without its checkpoint the next window would leave a gap behind it.
                        return Ok(GroupResult::Continue);
                    }
                    last_task = Some(task_id);
                }
                (status, message) if status.in_progress() => {
                    let why = format!(
                        "export task {task_id} still {status} when the invocation's time ran out; the next run checks it"
                    );
                    run.act(
                        "logs:CreateExportTask",
                        &target,
                        ActionStatus::Done,
                        format!("started: {why}"),
                    );
                    run.summary
                        .exports_left
                        .push(format!("{target}: {why} {message}"));
                    let pending = PendingExport {
                        task_id,
                        window: *window,
                    };
                    let until = exported_until.unwrap_or(window.from);
                    self.checkpoint(run, group, until, last_task.clone(), Some(pending))
                        .await?;
                    return Ok(GroupResult::StopAll(why));
                }
                (status, message) => {
                    let failure = AwsFailure::new(
                        "logs:CreateExportTask",
                        target.clone(),
                        phoenix_core::aws::FailureKind::Service,
                        Some(&status.to_string()),
                        format!("export task {task_id} ended {status}: {message}"),
                        None,
                    );
                    run.failed(&failure, &format!("{target} not exported"));
                    return Ok(GroupResult::Continue);
                }
            }
            exported_until = Some(window.to);
        }
        Ok(GroupResult::Continue)
    }

    /// Polls an export task until it ends or the invocation's time (minus the report reserve)
    /// runs out.
    async fn wait_for(
        &self,
        run: &Run<'_>,
        task_id: &str,
    ) -> Result<(ExportStatus, String), AwsFailure> {
        let mut pause = StdDuration::from_millis(250);
        loop {
            let (status, message) = log_export::export_status(&self.clients.logs, task_id).await?;
            let left = run
                .deadline
                .saturating_duration_since(tokio::time::Instant::now());
            if !status.in_progress() || left.is_zero() {
                return Ok((status, message));
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(StdDuration::from_secs(5));
        }
    }

    async fn checkpoint(
        &self,
        run: &mut Run<'_>,
        group: &str,
        until: DateTime<Utc>,
        last_task_id: Option<String>,
        pending: Option<PendingExport>,
    ) -> Result<bool, RetryableError> {
        let key = exports::checkpoint_key(group);
        let checkpoint = Checkpoint {
            log_group: group.to_owned(),
            exported_until: until,
            last_task_id,
            pending,
            updated_at: run.now,
        };
        let text = serde_json::to_string_pretty(&checkpoint).unwrap_or_default();
        let target = format!("s3://{}/{key}", self.config.bucket);
        match log_export::write_checkpoint(&self.clients.s3, &self.config.bucket, &key, text).await
        {
            Ok(()) => {
                run.act(
                    "s3:PutObject",
                    target,
                    ActionStatus::Done,
                    format!("checkpoint: exported until {}", until.to_rfc3339()),
                );
                Ok(true)
            }
            Err(failure) if failure.retryable => Err(failure.into()),
            Err(failure) => {
                run.failed(
                    &failure,
                    &format!(
                        "{group} checkpoint not written (the next run exports the window again)"
                    ),
                );
                Ok(false)
            }
        }
    }

    async fn publish(&self, run: &mut Run<'_>) -> Result<(), RetryableError> {
        let region = self.region();
        let links = Links {
            snapshots: console::docdb_snapshots(&region),
            exports: console::s3_prefix(
                &region,
                &self.config.bucket,
                &format!("{}/", self.config.export_prefix),
            ),
        };
        let notice = report::build_notice(
            &run.summary,
            Backup::NAME,
            &run.request.event_id,
            run.request.reason.as_deref(),
            &links,
            run.now,
        );
        NoticePublisher::new(self.clients.sns.clone(), &self.config.alerts_topic_arn)
            .deliver(notice, &mut run.outcome, run.dry_run, true)
            .await
            .map_err(RetryableError::from)
    }
}

enum GroupResult {
    Continue,
    /// Stop every further export (one export at a time per account): why.
    StopAll(String),
}

/// Tag values: letters, digits, spaces and `_ . : / = + - @`, at most 256 characters.
fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

impl Function for Backup {
    const NAME: &'static str = "backup";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        let cluster = vars.required("DOCDB_CLUSTER_ID");
        let bucket = vars.required("BACKUP_BUCKET");
        let log_groups = vars.list("LOG_GROUPS");
        let export_prefix = vars
            .optional("EXPORT_PREFIX")
            .map(|p| p.trim_matches('/').to_owned())
            .unwrap_or_else(|| "logs".to_owned());
        let lag = vars.number_in("EXPORT_LAG_HOURS", 12, 0, 72);
        let retention = vars.number_in("RETENTION_DAYS", 7, 1, 35);
        let schedule_hours = vars.number_in("SCHEDULE_HOURS", 24, 1, 24);
        let alerts_topic_arn = vars.required_arn("ALERTS_TOPIC_ARN", "sns");
        let dry_run = vars.flag("DRY_RUN", false);
        if export_prefix.is_empty() {
            vars.invalid("EXPORT_PREFIX", "must not be empty or only slashes");
        }
        if 24 % schedule_hours != 0 {
            vars.invalid(
                "SCHEDULE_HOURS",
                format!("must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24), got {schedule_hours}"),
            );
        }
        Config {
            cluster,
            bucket,
            log_groups,
            export_prefix,
            export_lag: Duration::hours(i64::from(lag)),
            retention: SnapshotRetention {
                retention: Duration::days(i64::from(retention)),
            },
            schedule_hours,
            alerts_topic_arn,
            dry_run,
        }
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let request = match request::parse(
            &invocation.payload,
            &invocation.request_id,
            invocation.now,
            self.config.schedule_hours,
        ) {
            Ok(request) => request,
            Err(NotHandled::Ignored(why)) => {
                return Ok(Outcome::ignored(
                    Self::NAME,
                    request::event_id(&invocation.payload),
                    why,
                ));
            }
            Err(NotHandled::Rejected(why)) => {
                return Ok(Outcome::rejected(
                    Self::NAME,
                    Some(&invocation.request_id),
                    why,
                ));
            }
        };
        let dry_run = self.config.dry_run || request.dry_run;
        let mut run = Run {
            request: &request,
            dry_run,
            now: invocation.now,
            deadline: tokio::time::Instant::now()
                + invocation.time_left.saturating_sub(REPORT_RESERVE),
            outcome: Outcome::handled(Self::NAME, Some(&request.event_id), dry_run),
            summary: Summary {
                cluster: self.config.cluster.clone(),
                dry_run,
                ..Summary::default()
            },
            observed: serde_json::Map::new(),
        };
        let (trigger, slot) = match &request.trigger {
            Trigger::Scheduled { slot } => ("scheduled", Some(slot.to_rfc3339())),
            Trigger::Manual { .. } => ("manual", None),
        };
        run.observed.insert("trigger".into(), json!(trigger));
        run.observed.insert("slot".into(), json!(slot));
        run.observed.insert("reason".into(), json!(request.reason));
        run.observed.insert(
            "parts".into(),
            json!({"database": request.database, "logs": request.logs}),
        );

        if request.database {
            self.database(&mut run).await?;
        } else {
            run.act(
                "rds:CreateDBClusterSnapshot",
                &self.config.cluster,
                ActionStatus::Skipped,
                "database not requested",
            );
            run.summary
                .skipped
                .push("database: not requested".to_owned());
        }
        if request.logs {
            self.logs(&mut run).await?;
        } else {
            run.act(
                "logs:CreateExportTask",
                self.config.log_groups.join(","),
                ActionStatus::Skipped,
                "logs not requested",
            );
            run.summary.skipped.push("logs: not requested".to_owned());
        }
        self.publish(&mut run).await?;

        let decision = run.summary.decision();
        let line = run.summary.line();
        if run.summary.failed() {
            run.outcome
                .metrics
                .push(Metric::count("BackupFailures", 1.0));
        }
        let deleted = run.summary.deleted.len();
        if deleted > 0 && !dry_run {
            run.outcome
                .metrics
                .push(Metric::count("SnapshotsDeleted", deleted as f64));
        }
        run.observed.insert("summary".into(), json!(run.summary));
        let observed = Value::Object(std::mem::take(&mut run.observed));
        Ok(run.outcome.decided(decision, line).observed(observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoenix_core::lambda::{config_vars, load_config, required_config_vars};

    #[test]
    fn configuration_names_every_bad_variable() {
        let env = [
            ("RETENTION_DAYS", "0"),
            ("SCHEDULE_HOURS", "5"),
            ("EXPORT_PREFIX", "//"),
        ];
        let err = load_config::<Backup>(Vars::from_pairs(&env)).expect_err("bad");
        assert_eq!(
            err.vars(),
            [
                "DOCDB_CLUSTER_ID",
                "BACKUP_BUCKET",
                "RETENTION_DAYS",
                "ALERTS_TOPIC_ARN",
                "EXPORT_PREFIX",
                "SCHEDULE_HOURS"
            ]
        );
        assert_eq!(
            required_config_vars::<Backup>(),
            ["DOCDB_CLUSTER_ID", "BACKUP_BUCKET", "ALERTS_TOPIC_ARN"]
        );
        assert_eq!(config_vars::<Backup>().len(), 9);
    }

    #[test]
    fn defaults_match_the_documentation() {
        let env = [
            ("DOCDB_CLUSTER_ID", "phoenix-docdb"),
            ("BACKUP_BUCKET", "phoenix-backups"),
            ("ALERTS_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:alerts"),
        ];
        let config = load_config::<Backup>(Vars::from_pairs(&env)).expect("valid");
        assert_eq!(config.export_prefix, "logs");
        assert_eq!(config.export_lag, Duration::hours(12));
        assert_eq!(config.retention.retention, Duration::days(7));
        assert_eq!(config.schedule_hours, 24);
        assert!(config.log_groups.is_empty() && !config.dry_run);
    }

    #[test]
    fn tag_values_are_cleaned() {
        assert_eq!(
            tag_value("2026-11-20T00:00:00+00:00"),
            "2026-11-20T00:00:00+00:00"
        );
        assert_eq!(tag_value("a,b;c"), "a_b_c");
    }
}
