//! The `alerts` and `oncall` topics, each tapped by an SQS queue so tests can read what the
//! functions published, and the same delivery wrapped as Lambda receives it from SNS.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;

use super::{fail, sdk_fail};
use crate::HarnessError;

/// Creates (or finds: the call is idempotent) an SNS topic; returns its ARN.
pub async fn create_topic(sns: &aws_sdk_sns::Client, name: &str) -> Result<String, HarnessError> {
    sns.create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| sdk_fail("sns:CreateTopic", e))?
        .topic_arn()
        .map(str::to_owned)
        .ok_or_else(|| fail("sns:CreateTopic", "no ARN"))
}

/// Creates (or finds) an SQS queue; returns its URL and ARN.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String), HarnessError> {
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| sdk_fail("sqs:CreateQueue", e))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_fail("sqs:GetQueueAttributes", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    Ok((queue_url, queue_arn))
}

pub(super) async fn tap(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic_arn: &str,
    queue: &str,
) -> Result<String, HarnessError> {
    let (queue_url, queue_arn) = create_queue(sqs, queue).await?;
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .map_err(|e| sdk_fail("sns:Subscribe", e))?;
    Ok(queue_url)
}

/// One message an SNS topic delivered to its tap queue (the SNS JSON envelope, unwrapped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
}

/// Reads (and deletes) what reached a tap queue, waiting up to `wait_secs` for the first.
pub async fn read_tap(
    sdk: &SdkConfig,
    queue_url: &str,
    wait_secs: i32,
) -> Result<Vec<Published>, HarnessError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    let mut wait = wait_secs;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .send()
            .await
            .map_err(|e| sdk_fail("sqs:ReceiveMessage", e))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(out);
        }
        for message in messages {
            let body: serde_json::Value =
                serde_json::from_str(message.body().unwrap_or("{}")).unwrap_or_default();
            out.push(Published {
                message_id: body["MessageId"].as_str().unwrap_or_default().to_owned(),
                subject: body["Subject"].as_str().map(str::to_owned),
                message: body["Message"].as_str().unwrap_or_default().to_owned(),
                timestamp: body["Timestamp"].as_str().unwrap_or_default().to_owned(),
            });
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| sdk_fail("sqs:DeleteMessage", e))?;
            }
        }
        wait = 0;
    }
}

/// The same delivery wrapped as Lambda receives it from an SNS subscription.
pub fn as_sns_event(topic_arn: &str, published: &[Published]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = published
        .iter()
        .map(|p| {
            serde_json::json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": format!("{topic_arn}:00000000-0000-0000-0000-000000000000"),
                "Sns": {
                    "Type": "Notification",
                    "MessageId": p.message_id,
                    "TopicArn": topic_arn,
                    "Subject": p.subject,
                    "Message": p.message,
                    "Timestamp": p.timestamp,
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {}
                }
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}
