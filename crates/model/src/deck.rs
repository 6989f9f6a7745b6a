//! The built-in conversation deck: short prompts, grouped by theme, that a
//! couple can answer each in their own time.
//!
//! Within each theme the prompts move from light to deep, so the deck can be
//! walked in order without pushing anyone into vulnerability too early.

use serde::{Deserialize, Serialize};

/// Themes of the built-in conversation deck.
///
/// The serde names are stored in journals and typed on the command line, so
/// they must never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Theme {
    /// Today's moments.
    Day,
    /// What I wish for, and what I wish you understood about me.
    Wishes,
    /// What is weighing on me.
    Worries,
    /// Moments I was proud of: of me, of you, of us.
    Pride,
    /// What I value in you.
    Appreciation,
    /// The future.
    Dreams,
    /// Our past.
    Memories,
    /// Reconnecting after friction.
    Repair,
}

impl Theme {
    pub const ALL: [Theme; 8] = [
        Theme::Day,
        Theme::Wishes,
        Theme::Worries,
        Theme::Pride,
        Theme::Appreciation,
        Theme::Dreams,
        Theme::Memories,
        Theme::Repair,
    ];

    /// The stable name, identical to the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Day => "day",
            Theme::Wishes => "wishes",
            Theme::Worries => "worries",
            Theme::Pride => "pride",
            Theme::Appreciation => "appreciation",
            Theme::Dreams => "dreams",
            Theme::Memories => "memories",
            Theme::Repair => "repair",
        }
    }

    /// Case-insensitive, because people type theme names on the command line.
    pub fn parse(s: &str) -> Option<Theme> {
        Theme::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// One prompt of the built-in deck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeckPrompt {
    pub id: &'static str,
    pub theme: Theme,
    pub text: &'static str,
}

/// The built-in deck. Ids are stable forever: they are stored in journals.
///
/// Wording may be polished later, but an id must never be reused for a prompt
/// with a different meaning, or old answers would end up under the wrong
/// question. New prompts get new numbers.
pub const DECK: &[DeckPrompt] = &[
    // Day: today's moments.
    DeckPrompt {
        id: "day-01",
        theme: Theme::Day,
        text: "What was the best small moment of your day?",
    },
    DeckPrompt {
        id: "day-02",
        theme: Theme::Day,
        text: "What made you smile or laugh today?",
    },
    DeckPrompt {
        id: "day-03",
        theme: Theme::Day,
        text: "What took more of your energy today than you expected?",
    },
    DeckPrompt {
        id: "day-04",
        theme: Theme::Day,
        text: "When today did you feel most like yourself?",
    },
    DeckPrompt {
        id: "day-05",
        theme: Theme::Day,
        text: "What happened today that you haven't had the chance to tell anyone yet?",
    },
    DeckPrompt {
        id: "day-06",
        theme: Theme::Day,
        text: "Is there anything from today you are still carrying that you would like to set down with me?",
    },
    // Wishes: what I wish for, what I wish you understood about me.
    DeckPrompt {
        id: "wishes-01",
        theme: Theme::Wishes,
        text: "What is one small thing you wish we did more often?",
    },
    DeckPrompt {
        id: "wishes-02",
        theme: Theme::Wishes,
        text: "What do you wish you had more time for these days?",
    },
    DeckPrompt {
        id: "wishes-03",
        theme: Theme::Wishes,
        text: "What do you wish I asked you about more often?",
    },
    DeckPrompt {
        id: "wishes-04",
        theme: Theme::Wishes,
        text: "On a hard day, what do you wish I would say or do?",
    },
    DeckPrompt {
        id: "wishes-05",
        theme: Theme::Wishes,
        text: "What do you wish I understood about you today?",
    },
    DeckPrompt {
        id: "wishes-06",
        theme: Theme::Wishes,
        text: "What is something you have wanted from us but hesitated to ask for?",
    },
    // Worries: what is weighing on me.
    DeckPrompt {
        id: "worries-01",
        theme: Theme::Worries,
        text: "What small thing has been nagging at you lately?",
    },
    DeckPrompt {
        id: "worries-02",
        theme: Theme::Worries,
        text: "Is anything coming up soon that you feel uneasy about?",
    },
    DeckPrompt {
        id: "worries-03",
        theme: Theme::Worries,
        text: "What has been taking up more space in your head than you would like?",
    },
    DeckPrompt {
        id: "worries-04",
        theme: Theme::Worries,
        text: "When you are worried, what helps you feel less alone with it?",
    },
    DeckPrompt {
        id: "worries-05",
        theme: Theme::Worries,
        text: "What worry do you tend to keep to yourself, and what makes it hard to share?",
    },
    DeckPrompt {
        id: "worries-06",
        theme: Theme::Worries,
        text: "Is there something about us that you have been quietly worrying about?",
    },
    // Pride: of me, of you, of us.
    DeckPrompt {
        id: "pride-01",
        theme: Theme::Pride,
        text: "What did you get done this week that you are glad about?",
    },
    DeckPrompt {
        id: "pride-02",
        theme: Theme::Pride,
        text: "When did you surprise yourself recently?",
    },
    DeckPrompt {
        id: "pride-03",
        theme: Theme::Pride,
        text: "What is something I did lately that made you proud of me?",
    },
    DeckPrompt {
        id: "pride-04",
        theme: Theme::Pride,
        text: "When were you proud of how we handled something together?",
    },
    DeckPrompt {
        id: "pride-05",
        theme: Theme::Pride,
        text: "What are you proud of that you rarely get credit for?",
    },
    DeckPrompt {
        id: "pride-06",
        theme: Theme::Pride,
        text: "How have you grown this past year in a way you are proud of?",
    },
    // Appreciation: what I value in you.
    DeckPrompt {
        id: "appreciation-01",
        theme: Theme::Appreciation,
        text: "What is a small thing I do that makes your day a little easier?",
    },
    DeckPrompt {
        id: "appreciation-02",
        theme: Theme::Appreciation,
        text: "What is something about the way I am that you enjoy?",
    },
    DeckPrompt {
        id: "appreciation-03",
        theme: Theme::Appreciation,
        text: "When did you last feel cared for by me, and what did I do?",
    },
    DeckPrompt {
        id: "appreciation-04",
        theme: Theme::Appreciation,
        text: "What quality of mine have you come to value more over time?",
    },
    DeckPrompt {
        id: "appreciation-05",
        theme: Theme::Appreciation,
        text: "How have I supported you in a way you have never quite told me about?",
    },
    DeckPrompt {
        id: "appreciation-06",
        theme: Theme::Appreciation,
        text: "What do you value most about who we are with each other?",
    },
    // Dreams: the future.
    DeckPrompt {
        id: "dreams-01",
        theme: Theme::Dreams,
        text: "What is a place you would love for us to see someday?",
    },
    DeckPrompt {
        id: "dreams-02",
        theme: Theme::Dreams,
        text: "What is something new you would like us to try this year?",
    },
    DeckPrompt {
        id: "dreams-03",
        theme: Theme::Dreams,
        text: "What would an ideal ordinary day look like for you, five years from now?",
    },
    DeckPrompt {
        id: "dreams-04",
        theme: Theme::Dreams,
        text: "What is a dream of yours that you have rarely said out loud?",
    },
    DeckPrompt {
        id: "dreams-05",
        theme: Theme::Dreams,
        text: "How would you like our relationship to feel a year from now?",
    },
    DeckPrompt {
        id: "dreams-06",
        theme: Theme::Dreams,
        text: "Years from now, what do you hope we will be proud of when we look back on us?",
    },
    // Memories: our past.
    DeckPrompt {
        id: "memories-01",
        theme: Theme::Memories,
        text: "What funny moment between us still makes you laugh?",
    },
    DeckPrompt {
        id: "memories-02",
        theme: Theme::Memories,
        text: "What do you remember about the first time we met?",
    },
    DeckPrompt {
        id: "memories-03",
        theme: Theme::Memories,
        text: "What ordinary moment with me do you still remember fondly?",
    },
    DeckPrompt {
        id: "memories-04",
        theme: Theme::Memories,
        text: "When did you first realise you really cared about me?",
    },
    DeckPrompt {
        id: "memories-05",
        theme: Theme::Memories,
        text: "What hard time did we go through that you think brought us closer?",
    },
    DeckPrompt {
        id: "memories-06",
        theme: Theme::Memories,
        text: "Looking back, which moment changed the way you see us?",
    },
    // Repair: reconnecting after friction. Each prompt invites owning one's
    // own part or naming a need, never assigning blame.
    DeckPrompt {
        id: "repair-01",
        theme: Theme::Repair,
        text: "Is there a recent moment between us you would like a gentle redo of?",
    },
    DeckPrompt {
        id: "repair-02",
        theme: Theme::Repair,
        text: "What do you need right now to feel close to me again?",
    },
    DeckPrompt {
        id: "repair-03",
        theme: Theme::Repair,
        text: "When things feel tense between us, what helps you find your way back to me?",
    },
    DeckPrompt {
        id: "repair-04",
        theme: Theme::Repair,
        text: "What did you feel during our last disagreement that you did not get to say?",
    },
    DeckPrompt {
        id: "repair-05",
        theme: Theme::Repair,
        text: "Looking at our last disagreement, what was your part, and what do you need from me now?",
    },
    DeckPrompt {
        id: "repair-06",
        theme: Theme::Repair,
        text: "What would help you forgive fully, and what could we agree on for next time?",
    },
];

/// Looks up a prompt by its stable id.
pub fn find(id: &str) -> Option<&'static DeckPrompt> {
    DECK.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique() {
        let mut seen = HashSet::new();
        for p in DECK {
            assert!(seen.insert(p.id), "duplicate id {}", p.id);
        }
    }

    #[test]
    fn ids_are_prefixed_with_their_theme() {
        // The prefix makes ids readable in exports and on the command line.
        for p in DECK {
            let prefix = format!("{}-", p.theme.as_str());
            assert!(
                p.id.starts_with(&prefix),
                "{} is not under {}",
                p.id,
                prefix
            );
        }
    }

    #[test]
    fn every_theme_has_enough_prompts() {
        for t in Theme::ALL {
            let n = DECK.iter().filter(|p| p.theme == t).count();
            assert!(n >= 5, "theme {} has only {} prompts", t.as_str(), n);
        }
    }

    #[test]
    fn texts_are_short_and_clean() {
        for p in DECK {
            assert!(!p.text.is_empty(), "{} is empty", p.id);
            assert!(p.text.chars().count() < 110, "{} is too long", p.id);
            assert_eq!(p.text, p.text.trim(), "{} is not trimmed", p.id);
        }
    }

    #[test]
    fn find_works() {
        for p in DECK {
            assert_eq!(find(p.id), Some(p));
        }
        assert_eq!(find("day-01").map(|p| p.theme), Some(Theme::Day));
        assert_eq!(find("no-such-prompt"), None);
        assert_eq!(find(""), None);
    }

    #[test]
    fn parse_round_trips_and_ignores_case() {
        for t in Theme::ALL {
            assert_eq!(Theme::parse(t.as_str()), Some(t));
            assert_eq!(Theme::parse(&t.as_str().to_uppercase()), Some(t));
        }
        assert_eq!(Theme::parse("Repair"), Some(Theme::Repair));
        assert_eq!(Theme::parse("nope"), None);
        assert_eq!(Theme::parse(""), None);
    }

    #[test]
    fn all_lists_every_theme_once() {
        // The match fails to compile when a variant is added, as a reminder
        // to extend ALL and as_str.
        let mut seen = HashSet::new();
        for t in Theme::ALL {
            match t {
                Theme::Day
                | Theme::Wishes
                | Theme::Worries
                | Theme::Pride
                | Theme::Appreciation
                | Theme::Dreams
                | Theme::Memories
                | Theme::Repair => {}
            }
            assert!(seen.insert(t));
        }
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn serde_name_matches_as_str() {
        for t in Theme::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            let back: Theme = serde_json::from_str(&json).unwrap();
            assert_eq!(back, t);
        }
    }
}
