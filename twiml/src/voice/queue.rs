//! Call queues: `<Enqueue>` (with `<Task>`), `<Leave>`, and the `<Queue>` noun of `<Dial>`.

use std::time::Duration;

use super::Method;
use super::common::{action_setters, secs, url_setters};
use crate::AbsoluteUrl;
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may be nested in `<Enqueue>`: the TaskRouter `<Task>`.
    EnqueueChild: Task
);

/// `<Enqueue>`: puts the caller in a queue (or hands the call to TaskRouter).
///
/// Without an [`action`](Enqueue::action), Twilio continues with the next verb when the
/// caller leaves the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue(Element);
typed_element!(Enqueue);

impl Enqueue {
    /// Puts the caller in the queue `name` (created if it does not exist).
    pub fn new(name: impl Into<String>) -> Self {
        Self(Element::typed("Enqueue").text(name))
    }

    /// Hands the call to the TaskRouter workflow `workflow_sid`; describe the task with a
    /// nested [`Task`].
    pub fn workflow(workflow_sid: impl Into<String>) -> Self {
        let mut element = Element::typed("Enqueue");
        element.set("workflowSid", workflow_sid);
        Self(element)
    }

    /// Nests the TaskRouter `<Task>`.
    #[must_use]
    pub fn add(mut self, child: impl EnqueueChild) -> Self {
        self.0.push(child);
        self
    }

    action_setters!(
        /// Where Twilio posts the outcome when the caller leaves the queue.
    );

    /// The most callers the queue may hold.
    #[must_use]
    pub fn max_queue_size(mut self, size: u32) -> Self {
        self.0.set("maxQueueSize", size.to_string());
        self
    }

    /// TwiML run for the caller while waiting (hold music, announcements).
    #[must_use]
    pub fn wait_url(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("waitUrl", url.into_string());
        self
    }

    /// The method used to request `waitUrl`.
    #[must_use]
    pub fn wait_url_method(mut self, method: Method) -> Self {
        self.0.set("waitUrlMethod", method.as_str());
        self
    }

    /// The TaskRouter workflow SID.
    #[must_use]
    pub fn workflow_sid(mut self, workflow_sid: impl Into<String>) -> Self {
        self.0.set("workflowSid", workflow_sid);
        self
    }
}

/// `<Task>`: the TaskRouter task created for an `<Enqueue>`d call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task(Element);
typed_element!(Task);

impl Task {
    /// A task with these attributes, as a JSON object (`{"language": "fr"}`).
    pub fn new(attributes_json: impl Into<String>) -> Self {
        Self(Element::typed("Task").text(attributes_json))
    }

    /// The task's priority.
    #[must_use]
    pub fn priority(mut self, priority: u32) -> Self {
        self.0.set("priority", priority.to_string());
        self
    }

    /// How long the task may wait, in whole seconds.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.set("timeout", secs(timeout));
        self
    }
}

/// `<Leave>`: takes the caller out of the queue; the call continues after `<Enqueue>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leave(Element);
typed_element!(Leave);

impl Default for Leave {
    fn default() -> Self {
        Self::new()
    }
}

impl Leave {
    /// Leaves the queue.
    pub fn new() -> Self {
        Self(Element::typed("Leave"))
    }
}

/// `<Queue>`: connects the caller to the first caller waiting in a queue (a `<Dial>` noun).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue(Element);
typed_element!(Queue);

impl Queue {
    /// Dequeues from the queue `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self(Element::typed("Queue").text(name))
    }

    url_setters!(
        /// TwiML run for the dequeued caller before the two are connected.
    );

    /// The TaskRouter reservation SID this call accepts.
    #[must_use]
    pub fn reservation_sid(mut self, sid: impl Into<String>) -> Self {
        self.0.set("reservationSid", sid);
        self
    }

    /// The TaskRouter activity the worker moves to after the call.
    #[must_use]
    pub fn post_work_activity_sid(mut self, sid: impl Into<String>) -> Self {
        self.0.set("postWorkActivitySid", sid);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::common::test_support::{render, url};

    #[test]
    fn enqueue_renders_like_the_official_sdk() {
        assert_eq!(
            render(
                Enqueue::new("TestEnqueueAttribute")
                    .action(url("https://example.com/act"))
                    .method(Method::Get)
                    .wait_url(url("https://example.com/wait"))
                    .wait_url_method(Method::Post)
                    .max_queue_size(10)
            ),
            concat!(
                r#"<Enqueue action="https://example.com/act" maxQueueSize="10" method="GET" "#,
                r#"waitUrl="https://example.com/wait" waitUrlMethod="POST">"#,
                "TestEnqueueAttribute</Enqueue>"
            )
        );
        assert_eq!(
            render(
                Enqueue::workflow("123123123")
                    .add(Task::new(r#"{"account_sid": "AC123123123"}"#).priority(5))
            ),
            concat!(
                r#"<Enqueue workflowSid="123123123"><Task priority="5">"#,
                r#"{"account_sid": "AC123123123"}</Task></Enqueue>"#
            )
        );
        assert_eq!(
            render(Task::new("{}").timeout(Duration::from_secs(30))),
            r#"<Task timeout="30">{}</Task>"#
        );
    }

    #[test]
    fn queue_and_leave() {
        assert_eq!(render(Leave::new()), "<Leave />");
        assert_eq!(
            render(
                Queue::new("TestQueueAttribute")
                    .url(url("https://example.com/about-to-connect"))
                    .method(Method::Get)
                    .reservation_sid("WR123")
                    .post_work_activity_sid("WA123")
            ),
            concat!(
                r#"<Queue method="GET" postWorkActivitySid="WA123" reservationSid="WR123" "#,
                r#"url="https://example.com/about-to-connect">TestQueueAttribute</Queue>"#
            )
        );
    }
}
