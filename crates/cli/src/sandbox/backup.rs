//! The backup act of the sandbox scenario.

use super::Stage;

pub async fn act(stage: &mut Stage) {
    stage.act("backup");
    super::answers::<::backup::Backup>(stage, "scheduled-event.json").await;
}
