//! Fixed prompts: short story requests that make a small model talk long, and
//! a deterministic long "handbook" text used as a shared prefix.

/// Built-in user prompts. Each asks for long output so that a small model
/// usually generates up to `max_tokens` instead of stopping early.
pub const STORY_PROMPTS: &[&str] = &[
    "Write a long story about a lighthouse keeper who finds a map in a bottle.",
    "Write a long story about a young baker who opens a shop in a mountain village.",
    "Write a long story about two friends who build a raft and sail down a great river.",
    "Write a long story about a robot that learns to paint in an old city.",
    "Write a long story about a girl who trains a dragon to carry letters.",
    "Write a long story about a detective who solves a mystery on a night train.",
    "Write a long story about a farmer who discovers a hidden garden behind his barn.",
    "Write a long story about an astronaut who hears music on the far side of the moon.",
];

/// Short prompt used for warm-up requests; it shares nothing with the
/// measured prompts beyond the chat template's own header.
pub const WARMUP_PROMPT: &str = "Say hello in one short sentence.";

/// Question sent after the long prefix on the cold request of the prefix scenario.
pub const PREFIX_COLD_QUESTION: &str = "Which rules apply to the finance team? Answer briefly.";
/// A different question sent after the same long prefix on the warm request.
pub const PREFIX_WARM_QUESTION: &str = "Which rules mention the security team? Answer briefly.";

/// Characters per token of [`long_text`] under the SmolLM2 tokenizer
/// (measured: 1,450 requested tokens gave a 1,4xx-token system message). Other
/// tokenizers differ a little; the servers report the real count in `usage`.
const CHARS_PER_TOKEN: f64 = 4.6;

const TEAMS: &[&str] = &[
    "finance",
    "security",
    "logistics",
    "support",
    "research",
    "legal",
    "facilities",
    "sales",
    "engineering",
    "procurement",
    "training",
];
const ACTIONS: &[&str] = &[
    "review and sign",
    "archive in the records room",
    "send to the regional office",
    "report to the duty manager",
    "check twice before approving",
    "encrypt before sharing",
    "attach to the weekly summary",
];
const OBJECTS: &[&str] = &[
    "every purchase order above five thousand euros",
    "the visitor log of each building",
    "all incident reports from the night shift",
    "customer complaints that mention delivery delays",
    "new supplier contracts",
    "the inventory counts of the central warehouse",
    "changes to access badges",
    "travel expense claims",
    "drafts of public announcements",
];
const TIMES: &[&str] = &[
    "within two working days",
    "before the end of each month",
    "every Monday morning",
    "no later than noon on Friday",
    "as soon as it is received",
];
const REASONS: &[&str] = &[
    "because auditors sample these documents every quarter",
    "so that the board can follow the trend over the year",
    "since late filings have caused fines in the past",
    "which keeps the regional offices informed",
    "and the head of department confirms it in writing",
    "so that nobody has to search for it later",
];

/// A deterministic, non-repetitive English text of about `approx_tokens`
/// tokens: numbered office rules combining teams, actions and deadlines.
pub fn long_text(approx_tokens: usize) -> String {
    let target_chars = (approx_tokens as f64 * CHARS_PER_TOKEN) as usize;
    let mut text = String::from(
        "You are the assistant of a large company. Below is the company handbook. \
         Answer questions using only these rules.\n\n",
    );
    let mut rule = 1usize;
    while text.len() < target_chars {
        let i = rule;
        text.push_str(&format!(
            "Rule {rule}. The {team} team must {action} {object} {time}, {reason}.\n",
            team = TEAMS[i % TEAMS.len()],
            action = ACTIONS[(i / 2) % ACTIONS.len()],
            object = OBJECTS[(i * 7 / 3) % OBJECTS.len()],
            time = TIMES[(i / 3) % TIMES.len()],
            reason = REASONS[(i * 5 / 4) % REASONS.len()],
        ));
        rule += 1;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_deterministic_and_sized() {
        let a = long_text(1500);
        assert_eq!(a, long_text(1500));
        let chars = a.len() as f64;
        assert!(chars >= 1500.0 * CHARS_PER_TOKEN);
        assert!(chars < 1500.0 * CHARS_PER_TOKEN + 200.0);
    }

    #[test]
    fn long_text_rules_differ() {
        let text = long_text(1500);
        let rules: Vec<&str> = text.lines().filter(|l| l.starts_with("Rule ")).collect();
        let bodies: std::collections::HashSet<&str> = rules
            .iter()
            .filter_map(|l| l.split_once(". ").map(|(_, b)| b))
            .collect();
        // Most rules have a distinct body, so the text is not one phrase repeated.
        assert!(
            bodies.len() * 2 > rules.len(),
            "{} of {}",
            bodies.len(),
            rules.len()
        );
    }
}
