// One streamed answer (a chat completion, or the rest of one after a tool
// call's confirmation) gathered from its chunks: text, reasoning, tool
// calls, citations and the finish reason, reported after every chunk.
import { readEvents, request } from "./api.js";

/** A fresh, empty answer. */
export function emptyAnswer() {
  return { content: "", reasoning: "", toolCalls: [], toolsRun: [], annotations: [], finish: null };
}

/**
 * POSTs `body` to `path` as a stream and folds its chunks into `answer`
 * (changed in place), calling `onUpdate(answer)` after each; returns it.
 */
export async function streamAnswer(path, body, { signal, answer = emptyAnswer(), onUpdate }) {
  const response = await request("POST", path, { body: { ...body, stream: true }, signal, raw: true });
  const type = response.headers.get("content-type") || "";
  if (!type.includes("event-stream")) {
    // Not streamed after all: one chat completion object.
    const completion = await response.json();
    foldMessage(answer, completion.choices && completion.choices[0]);
    onUpdate(answer);
    return answer;
  }
  await readEvents(response, (event) => {
    const choice = event.choices && event.choices[0];
    if (!choice) return;
    foldDelta(answer, choice.delta || {});
    if (choice.finish_reason) answer.finish = choice.finish_reason;
    onUpdate(answer);
  });
  return answer;
}

function foldDelta(answer, delta) {
  if (typeof delta.content === "string") answer.content += delta.content;
  const reasoning = delta.reasoning_content ?? delta.reasoning;
  if (typeof reasoning === "string") answer.reasoning += reasoning;
  for (const call of delta.tool_calls || []) {
    const index = call.index ?? answer.toolCalls.length;
    const slot = (answer.toolCalls[index] ||= { id: "", name: "", arguments: "" });
    if (call.id) slot.id = call.id;
    if (call.function && call.function.name) slot.name += call.function.name;
    if (call.function && call.function.arguments) slot.arguments += call.function.arguments;
  }
  if (Array.isArray(delta.annotations)) answer.annotations.push(...delta.annotations);
  // moat's own: a server-side tool call decided between two model turns.
  if (delta.moat_tool && typeof delta.moat_tool.name === "string") answer.toolsRun.push(delta.moat_tool);
}

function foldMessage(answer, choice) {
  if (!choice) return;
  const message = choice.message || {};
  answer.content += message.content || "";
  answer.reasoning += message.reasoning_content || "";
  for (const call of message.tool_calls || []) {
    answer.toolCalls.push({ id: call.id, name: call.function.name, arguments: call.function.arguments });
  }
  answer.annotations.push(...(message.annotations || []));
  answer.finish = choice.finish_reason;
}

/** Tool calls waiting for a person's decision: confirmation ids are `tcf_…`. */
export function pendingCalls(answer) {
  if (answer.finish !== "tool_calls") return [];
  return answer.toolCalls.filter((call) => call.id && call.id.startsWith("tcf_"));
}
