//! The lead search: the text each lead is found by, the fragment a user searches for, folded alike, and which
//! of the fragment's trigrams a search asks the backends' trigram indexes for.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadgate_domain::payload::Payload;

/// What a lead's text search reads (its `search_text`): subject, contact person, phone as sent and in E.164,
/// e-mail, INN and external number, one per line, folded once at write time as [`search_folded`] says. Both
/// backends store this.
pub fn search_text(payload: &Payload, external_number: Option<&str>) -> String {
    let c = &payload.contact;
    let text = [
        payload.subject.as_deref(),
        c.person.as_deref(),
        c.phone.as_deref(),
        c.phone_e164.as_deref(),
        c.email.as_deref(),
        payload.inn.as_ref().map(|i| i.raw()),
        external_number,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n");
    search_folded(&text)
}

/// The characters a lead search leaves out, of the stored text and of the searched fragment alike: spaces,
/// tabs, no-break spaces, hyphens, dots and brackets. A phone is then found however the site wrote it and the
/// manager types it: `916 123`, `916-123`, `(916) 123 45 67` and `9161234567` all find `+7 (916) 123-45-67`.
/// A search still finds every lead whose text holds the fragment as typed. PostgreSQL's migration 0016 and
/// SQLite's 0024 took the same characters out of the texts stored before.
pub const SEARCH_IGNORED: [char; 7] = [' ', '\t', '\u{a0}', '-', '.', '(', ')'];

/// `text` as a lead search compares it: lower-cased, with U+FFFD for a NUL (neither FTS5's query language nor
/// PostgreSQL can carry one), without the [`SEARCH_IGNORED`] characters.
pub fn search_folded(text: &str) -> String {
    text.to_lowercase()
        .replace('\0', "\u{FFFD}")
        .replace(SEARCH_IGNORED, "")
}

/// A searched fragment as a lead search compares it: folded as [`search_folded`] says, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchKey(String);

impl SearchKey {
    /// The key of `fragment`, or `None` when nothing is left to search for (an empty fragment, or one of
    /// spaces and hyphens only).
    pub fn parse(fragment: &str) -> Option<Self> {
        Some(search_folded(fragment))
            .filter(|k| !k.is_empty())
            .map(Self)
    }

    /// The folded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A lead search: its key and the trigrams of it that the backend's trigram index is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadSearch {
    /// What the lead's search text must contain.
    pub key: SearchKey,
    /// The key's distinct trigrams to look up, sorted: of those the index holds, the ones not
    /// [`CommonTrigrams`], or all of them when every one is common; none for a key shorter than three
    /// characters.
    pub trigrams: Vec<String>,
    /// Whether common trigrams of the key were left out of [`LeadSearch::trigrams`].
    pub narrowed: bool,
}

impl LeadSearch {
    /// The search for `key` in an index that holds the trigrams `indexed` accepts, with the trigrams it is
    /// asked for chosen against `common`.
    pub fn new(key: SearchKey, common: &CommonTrigrams, indexed: fn(&[char; 3]) -> bool) -> Self {
        let chars: Vec<char> = key.as_str().chars().collect();
        let mut all: Vec<[char; 3]> = chars
            .windows(3)
            .map(|w| [w[0], w[1], w[2]])
            .filter(indexed)
            .collect();
        all.sort_unstable();
        all.dedup();
        let rare: Vec<[char; 3]> = all
            .iter()
            .copied()
            .filter(|t| !common.0.contains(t))
            .collect();
        let narrowed = !rare.is_empty() && rare.len() < all.len();
        let chosen = if rare.is_empty() { all } else { rare };
        Self {
            key,
            trigrams: chosen.iter().map(|t| t.iter().collect()).collect(),
            narrowed,
        }
    }
}

/// The trigrams common among the leads' search texts: each in more than one text in [`COMMON_SHARE`] of a
/// sample of them. A common trigram's list in a trigram index is long (the operator code of most phones, a word
/// every subject starts with): reading it is most of a search's time, and it narrows the leads little. So a
/// search asks the index for its key's other trigrams only, when it has any. Which leads a search finds never
/// depends on it: the search text decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonTrigrams(HashSet<[char; 3]>);

/// A trigram in more than one text in this many of a sample is common.
pub const COMMON_SHARE: usize = 20;

impl CommonTrigrams {
    /// The trigrams common among `texts` (a sample of search texts).
    pub fn of_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut counts: HashMap<[char; 3], usize> = HashMap::new();
        let mut sampled = 0;
        let mut seen = HashSet::new();
        for text in texts {
            sampled += 1;
            let chars: Vec<char> = text.chars().collect();
            seen.clear();
            seen.extend(chars.windows(3).map(|w| [w[0], w[1], w[2]]));
            for trigram in &seen {
                *counts.entry(*trigram).or_default() += 1;
            }
        }
        Self(
            counts
                .into_iter()
                .filter(|&(_, n)| n * COMMON_SHARE > sampled)
                .map(|(trigram, _)| trigram)
                .collect(),
        )
    }
}

/// The [`CommonTrigrams`] a backend sampled last, kept for [`CommonTrigramsCache::TTL`]: the leads a shop
/// receives change their common trigrams slowly.
#[derive(Debug, Default)]
pub struct CommonTrigramsCache(Mutex<Option<(Instant, Arc<CommonTrigrams>)>>);

impl CommonTrigramsCache {
    /// How long a sample serves.
    pub const TTL: Duration = Duration::from_secs(600);

    /// How many of the newest leads' search texts a backend samples.
    pub const SAMPLE: u32 = 2000;

    /// The search for `key`, its trigrams chosen against the common trigrams sampled less than [`Self::TTL`]
    /// ago, or else against those of `sample`, awaited only then: the newest [`Self::SAMPLE`] search texts.
    ///
    /// # Errors
    /// `sample`'s.
    pub async fn search<E>(
        &self,
        key: SearchKey,
        indexed: fn(&[char; 3]) -> bool,
        sample: impl Future<Output = Result<Vec<String>, E>>,
    ) -> Result<LeadSearch, E> {
        let common = match self.fresh() {
            Some(common) => common,
            None => {
                let texts = sample.await?;
                let common = Arc::new(CommonTrigrams::of_texts(texts.iter().map(String::as_str)));
                *self.lock() = Some((Instant::now(), Arc::clone(&common)));
                common
            }
        };
        Ok(LeadSearch::new(key, &common, indexed))
    }

    fn fresh(&self) -> Option<Arc<CommonTrigrams>> {
        self.lock()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < Self::TTL)
            .map(|(_, common)| Arc::clone(common))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<CommonTrigrams>)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strings(all: &[&str]) -> Vec<String> {
        all.iter().map(|s| (*s).to_owned()).collect()
    }

    fn search(fragment: &str, common: &CommonTrigrams) -> (Vec<String>, bool) {
        let search = LeadSearch::new(SearchKey::parse(fragment).unwrap(), common, |_| true);
        (search.trigrams, search.narrowed)
    }

    /// Texts that all hold `+7916`, and a subscriber number each: the operator's trigrams are common, a number's
    /// are not; a search asks the index for its uncommon trigrams, or for all of them when none is uncommon.
    #[test]
    fn a_search_leaves_the_common_trigrams_out_of_its_index_lookup() {
        let texts: Vec<String> = (0..100).map(|i| format!("+7916{:07}", i * 7919)).collect();
        let common = CommonTrigrams::of_texts(texts.iter().map(String::as_str));
        assert!(common.0.contains(&['7', '9', '1']), "{common:?}");
        assert!(!common.0.contains(&['6', '1', '2']), "{common:?}");
        assert_eq!(
            search("916 123", &common),
            (strings(&["123", "161", "612"]), true)
        );
        assert_eq!(
            search("+7916", &common),
            (strings(&["+79", "791", "916"]), false)
        );
        assert_eq!(search("91", &common), (vec![], false));
        assert_eq!(
            search("916 123", &CommonTrigrams::default()),
            (strings(&["123", "161", "612", "916"]), false)
        );
        let alphanumeric = |t: &[char; 3]| t.iter().all(|c| c.is_alphanumeric());
        let key = SearchKey::parse("+79-16").unwrap();
        assert_eq!(
            LeadSearch::new(key, &common, alphanumeric).trigrams,
            ["791", "916"],
            "of the trigrams an index holds only; all, as both are common"
        );
    }
}
