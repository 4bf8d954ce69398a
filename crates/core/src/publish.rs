//! Publishing to SNS: Notices to `alerts`, and any text with a `severity` attribute (which the
//! people's subscriptions filter on).

use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws::{AwsFailure, FailureKind};
use crate::notice::{Notice, Severity, sns_subject};
use crate::outcome::{Action, ActionStatus, NoticeDelivery, Outcome};

/// Publishes one message to an SNS topic, with a `severity` attribute for subscription filters.
pub async fn publish_message(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    subject: &str,
    message: String,
    severity: &Severity,
) -> Result<String, AwsFailure> {
    let attribute = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(severity.as_str())
        .build()
        .map_err(|e| {
            AwsFailure::new(
                "sns:Publish",
                topic_arn,
                FailureKind::Construction,
                None,
                e.to_string(),
                None,
            )
        })?;
    let output = sns
        .publish()
        .topic_arn(topic_arn)
        .subject(sns_subject(subject))
        .message(message)
        .message_attributes("severity", attribute)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("sns:Publish", topic_arn, &e))?;
    Ok(output.message_id().unwrap_or_default().to_owned())
}

/// Publishes Notices to the `alerts` topic.
#[derive(Debug, Clone)]
pub struct NoticePublisher {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

impl NoticePublisher {
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            sns,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Delivers a function's Notice and records it in its Outcome: in dry run nothing is sent
    /// (`NoticeDelivery::DryRun`); a final failure is recorded as a failed `sns:Publish` action.
    /// A retryable failure is returned only when `retry_is_safe` (retrying the invocation would
    /// not repeat an action already taken); otherwise it is recorded like a final one.
    pub async fn deliver(
        &self,
        notice: Notice,
        outcome: &mut Outcome,
        dry_run: bool,
        retry_is_safe: bool,
    ) -> Result<(), AwsFailure> {
        let notice = notice.capped();
        if dry_run {
            outcome.notice_delivery = Some(NoticeDelivery::DryRun);
        } else {
            match self.publish(&notice).await {
                Ok(message_id) => {
                    outcome.notice_delivery = Some(NoticeDelivery::Published { message_id })
                }
                Err(failure) if failure.retryable && retry_is_safe => return Err(failure),
                Err(failure) => outcome.action(
                    Action::new("sns:Publish", &self.topic_arn, ActionStatus::Failed)
                        .detail(failure.to_string()),
                ),
            }
        }
        outcome.notice = Some(notice);
        Ok(())
    }

    /// Publishes the Notice as JSON (shortened to fit, see [`Notice::capped`]); returns the SNS
    /// message id.
    pub async fn publish(&self, notice: &Notice) -> Result<String, AwsFailure> {
        let notice = notice.clone().capped();
        let body = serde_json::to_string(&notice).unwrap_or_default();
        publish_message(
            &self.sns,
            &self.topic_arn,
            &notice.subject(),
            body,
            &notice.severity,
        )
        .await
    }
}
