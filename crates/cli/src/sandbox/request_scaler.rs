//! The request-scaler act of the sandbox scenario.

use super::Stage;

pub async fn act(stage: &mut Stage) {
    stage.act("request-scaler");
    super::answers::<::request_scaler::RequestScaler>(stage, "scheduled-event.json").await;
}
