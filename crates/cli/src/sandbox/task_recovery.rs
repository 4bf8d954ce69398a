//! The task-recovery act of the sandbox scenario.

use super::Stage;

pub async fn act(stage: &mut Stage) {
    stage.act("task-recovery");
    super::answers::<::task_recovery::TaskRecovery>(stage, "ecs-task-stopped-crash.json").await;
}
