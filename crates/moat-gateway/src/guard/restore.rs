//! Restoring a pseudonymized request's response for the caller: the
//! backend's events with placeholders put back in content, reasoning and
//! tool-call arguments, streamed or not.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use moat_guard::{PseudonymVault, StreamRestorer};
use moat_protocol::chat::{FunctionCallDelta, ToolCallDelta};
use moat_protocol::{ApiError, GenerationEvent};
use moat_router::EventStream;

/// Puts the real values back into a response whose request was
/// pseudonymized; passes it through unchanged otherwise.
#[derive(Debug)]
pub(crate) struct ResponseRestorer {
    pub(super) vault: Option<Arc<PseudonymVault>>,
}

impl ResponseRestorer {
    /// `events` with placeholders restored in content, reasoning and
    /// tool-call arguments; what a restorer held back is released just
    /// before the `Finish` event.
    pub(crate) fn events(self, events: EventStream) -> EventStream {
        let Some(vault) = self.vault else {
            return events;
        };
        let state = Restoring {
            content: StreamRestorer::new(vault.clone()),
            reasoning: StreamRestorer::new(vault.clone()),
            tool_arguments: BTreeMap::new(),
            vault,
            events,
            ready: VecDeque::new(),
        };
        stream::unfold(state, |mut state| async move {
            loop {
                if let Some(item) = state.ready.pop_front() {
                    return Some((item, state));
                }
                let item = state.events.next().await?;
                state.on_item(item);
            }
        })
        .boxed()
    }
}

type Restorer = StreamRestorer<Arc<PseudonymVault>>;

/// The state of one restored stream.
struct Restoring {
    events: EventStream,
    vault: Arc<PseudonymVault>,
    content: Restorer,
    reasoning: Restorer,
    /// One per tool-call index: argument fragments are one text per call.
    tool_arguments: BTreeMap<u32, Restorer>,
    ready: VecDeque<Result<GenerationEvent, ApiError>>,
}

impl Restoring {
    fn on_item(&mut self, item: Result<GenerationEvent, ApiError>) {
        match item {
            Ok(GenerationEvent::Delta {
                content,
                reasoning,
                mut tool_calls,
            }) => {
                for call in &mut tool_calls {
                    let Some(arguments) = call.function.as_mut().and_then(|f| f.arguments.as_mut())
                    else {
                        continue;
                    };
                    let vault = &self.vault;
                    let restorer = self
                        .tool_arguments
                        .entry(call.index)
                        .or_insert_with(|| StreamRestorer::new(vault.clone()));
                    *arguments = restorer.push(arguments);
                }
                self.ready.push_back(Ok(GenerationEvent::Delta {
                    content: self.content.push(&content),
                    reasoning: self.reasoning.push(&reasoning),
                    tool_calls,
                }));
            }
            // Quotes are the documents' own text, which the caller may read;
            // a tool's activity holds no text of the model's.
            Ok(event @ (GenerationEvent::Annotations(_) | GenerationEvent::Tool(_))) => {
                self.ready.push_back(Ok(event));
            }
            Ok(finish @ GenerationEvent::Finish { .. }) => {
                if let Some(held) = self.flush() {
                    self.ready.push_back(Ok(held));
                }
                self.ready.push_back(Ok(finish));
            }
            Err(error) => self.ready.push_back(Err(error)),
        }
    }

    /// What the restorers held back, as one last delta (none if empty).
    fn flush(&mut self) -> Option<GenerationEvent> {
        let vault = &self.vault;
        let take = |r: &mut Restorer| std::mem::replace(r, StreamRestorer::new(vault.clone()));
        let content = take(&mut self.content).finish();
        let reasoning = take(&mut self.reasoning).finish();
        let tool_calls: Vec<ToolCallDelta> = std::mem::take(&mut self.tool_arguments)
            .into_iter()
            .map(|(index, restorer)| (index, restorer.finish()))
            .filter(|(_, rest)| !rest.is_empty())
            .map(|(index, rest)| ToolCallDelta {
                index,
                function: Some(FunctionCallDelta {
                    name: None,
                    arguments: Some(rest),
                }),
                ..ToolCallDelta::default()
            })
            .collect();
        (!content.is_empty() || !reasoning.is_empty() || !tool_calls.is_empty()).then_some(
            GenerationEvent::Delta {
                content,
                reasoning,
                tool_calls,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use moat_guard::Kind;
    use moat_protocol::{FinishReason, Usage};

    use super::*;

    const PHONE: &str = "13812345678";

    fn delta(content: &str, reasoning: &str, arguments: Option<(u32, &str)>) -> GenerationEvent {
        GenerationEvent::Delta {
            content: content.into(),
            reasoning: reasoning.into(),
            tool_calls: arguments
                .map(|(index, a)| ToolCallDelta {
                    index,
                    function: Some(FunctionCallDelta {
                        name: None,
                        arguments: Some(a.into()),
                    }),
                    ..ToolCallDelta::default()
                })
                .into_iter()
                .collect(),
        }
    }

    #[tokio::test]
    async fn streams_are_restored_and_held_back_text_comes_before_finish() {
        let mut vault = PseudonymVault::new();
        vault.placeholder(&Kind::Mobile, PHONE).unwrap();
        let restorer = ResponseRestorer {
            vault: Some(Arc::new(vault)),
        };
        let finish = GenerationEvent::Finish {
            reason: FinishReason::Stop,
            usage: Usage::new(1, 2, None),
        };
        let events = stream::iter(vec![
            Ok(delta("call <PH", "think <PHONE", Some((0, "{\"p\":\"<P")))),
            Ok(delta("ONE_1> now", "_1>", Some((1, "<PHONE_")))),
            Ok(delta(" <PHONE_", "", Some((0, "HONE_1>\"}")))),
            Ok(finish.clone()),
        ])
        .boxed();
        let out: Vec<_> = restorer.events(events).collect().await;
        let out: Vec<GenerationEvent> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            out,
            vec![
                delta("call ", "think ", Some((0, "{\"p\":\""))),
                GenerationEvent::Delta {
                    content: format!("{PHONE} now"),
                    reasoning: PHONE.into(),
                    tool_calls: vec![ToolCallDelta {
                        index: 1,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some(String::new()),
                        }),
                        ..ToolCallDelta::default()
                    }],
                },
                delta(" ", "", Some((0, "13812345678\"}"))),
                GenerationEvent::Delta {
                    content: "<PHONE_".into(),
                    reasoning: String::new(),
                    tool_calls: vec![ToolCallDelta {
                        index: 1,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some("<PHONE_".into()),
                        }),
                        ..ToolCallDelta::default()
                    }],
                },
                finish,
            ]
        );
    }

    #[tokio::test]
    async fn nothing_to_restore_passes_events_through() {
        let restorer = ResponseRestorer { vault: None };
        let events = stream::iter(vec![Ok(GenerationEvent::content("<PHONE_1>"))]).boxed();
        let out: Vec<_> = restorer.events(events).collect().await;
        assert_eq!(out, vec![Ok(GenerationEvent::content("<PHONE_1>"))]);
    }
}
