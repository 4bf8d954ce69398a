//! `crash-loop`: a bad image (its process exits 1 five seconds after start) is rolled out with a
//! stack update. ECS replaces crashing tasks at once (they reached RUNNING: no throttle); the
//! deployment circuit breaker fails the deployment and rolls back to the last completed one;
//! CloudFormation rolls the stack back.
//!
//! What a user cares about: a person hears of it — with at most one critical page, every page
//! justified; the rollback is reported; phoenix-ops adds no restarts of its own (no restart
//! storm); the old version keeps serving throughout.

use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::ecs::{Image, Rollout, image_tag};

use super::runner::{Report, Setup, Sim};

/// A page that needs a person: a warning or worse, or an alarm going to ALARM.
pub fn justified(page: &phoenix_testkit::sim::people::OncallMessage) -> bool {
    matches!(page.severity(), Some("warning" | "error" | "critical"))
        || (page.severity().is_none() && page.subject.starts_with("ALARM"))
}

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start("crash-loop", emulator, Setup::default()).await?;
    sim.act("steady service; then phoenix:1.6.0, which crashes on start, is deployed");
    sim.run_until(sim.at(2)).await?;
    let deploy_at = sim.now;
    let crashing = Image::CrashesAfterStart {
        after: chrono::Duration::seconds(5),
        exit_code: 1,
        last_lines: vec![
            "> phoenix@1.6.0 start".to_owned(),
            "node:internal/modules/cjs/loader:1080".to_owned(),
            "Error: Cannot find module 'express'".to_owned(),
        ],
    };
    sim.push_app("1.6.0", crashing).await?;
    sim.run_until(sim.at(20)).await?;

    sim.act("invariants");
    let pages = sim.oncall.pages.len();
    let critical = sim
        .oncall
        .pages
        .iter()
        .filter(|p| p.severity() == Some("critical"))
        .count();
    sim.check(
        "a person is paged about the bad image, at most once critically",
        pages >= 1 && critical <= 1,
        format!("{pages} page(s), {critical} critical"),
    );
    let unjustified: Vec<String> = sim
        .oncall
        .pages
        .iter()
        .filter(|p| !justified(p))
        .map(|p| format!("{} ({})", p.subject, p.severity().unwrap_or("no severity")))
        .collect();
    sim.check(
        "every page is justified (warning or worse)",
        unjustified.is_empty(),
        unjustified.join("; "),
    );
    let reporting = sim
        .facts
        .slack
        .iter()
        .filter(|p| {
            let text = p.text.to_lowercase();
            text.contains("rolled back")
                || text.contains("rolling back")
                || text.contains("rollback")
        })
        .count();
    let dropped = sim
        .facts
        .unrouted
        .iter()
        .filter(|(_, what)| what.starts_with("ECS Deployment State Change"))
        .count();
    sim.check(
        "the circuit breaker's rollback is reported in Slack",
        reporting > 0,
        format!(
            "{reporting} Slack message(s) mention the rollback; {dropped} deployment event(s) reached no function"
        ),
    );
    let forced = sim.facts.forced_deployments.len();
    let started = sim.facts.started_tasks.len();
    sim.check(
        "no restart storm: phoenix-ops forces no deployment and starts no task",
        forced == 0 && started == 0,
        format!("{forced} forced deployment(s), {started} task(s) started"),
    );
    let thin: Vec<String> = sim
        .minutes(deploy_at, sim.now)
        .iter()
        .filter(|m| m.serving < 2)
        .map(|m| {
            format!(
                "+{} min: {} serving",
                (m.minute - sim.t0).num_minutes(),
                m.serving
            )
        })
        .collect();
    sim.check(
        "the old version keeps serving throughout (2 tasks every minute)",
        thin.is_empty(),
        thin.join("; "),
    );
    let tag = sim
        .ecs
        .image_of(&sim.ecs.task_definition())
        .map(image_tag)
        .unwrap_or("?")
        .to_owned();
    sim.check(
        "the service ends on the old version, its deployment completed",
        tag == "1.4.2" && sim.ecs.rollout() == Some(Rollout::Completed),
        format!("running {tag}, rollout {:?}", sim.ecs.rollout()),
    );
    let failed_tasks = sim.ecs.launches;
    sim.figure("critical pages", critical.to_string());
    sim.figure(
        "ECS launches of the bad image and the rollback",
        failed_tasks.to_string(),
    );
    Ok(sim.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoenix_testkit::sim::people::OncallMessage;
    use std::collections::BTreeMap;

    fn page(subject: &str, severity: Option<&str>) -> OncallMessage {
        OncallMessage {
            at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            by: "alarm-notifier#1".into(),
            topic: "arn:aws:sns:eu-west-1:1:oncall".into(),
            subject: subject.into(),
            attributes: severity
                .map(|s| BTreeMap::from([("severity".to_owned(), s.to_owned())]))
                .unwrap_or_default(),
            body: String::new(),
            about: String::new(),
        }
    }

    #[test]
    fn a_page_is_justified_when_it_needs_a_person() {
        assert!(justified(&page("CRITICAL: loop", Some("critical"))));
        assert!(justified(&page("WARNING: capped", Some("warning"))));
        assert!(!justified(&page("INFO: scaled out", Some("info"))));
        assert!(justified(&page("ALARM: \"dlq\" in EU (Ireland)", None)));
        assert!(!justified(&page("OK: \"dlq\" in EU (Ireland)", None)));
    }
}
