//! The alarm-notifier act of the sandbox scenario.

use super::Stage;

pub async fn act(stage: &mut Stage) {
    stage.act("alarm-notifier");
    super::answers::<::alarm_notifier::AlarmNotifier>(stage, "sns-cloudwatch-alarm-cpu.json").await;
}
