//! The lead search: the text each lead is found by, the fragment a user searches for, folded alike, and which
//! of the fragment's trigrams a search asks the backends' trigram indexes for.

use std::borrow::Cow;
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

/// The key of `trigram` in calendar `calendar` in both backends' indexes of the lead search: its characters'
/// code points `a`, `b`, `c` and the calendar's id, `((a * 2^42 + b * 2^21 + c) % P + calendar % P * 40503) % P`
/// with `P = 2^31 - 1`. One key stands for a trigram in one calendar, so a search asks only for its trigrams in
/// the calendars its viewer may see, and the index reads nothing of the others. Two keys may share a number:
/// a search still tests each lead's calendar and text itself. The backends' migrations compute the same in SQL
/// (PostgreSQL's 0017, SQLite's 0026) for the leads they key themselves.
pub fn search_key(calendar: i64, trigram: [char; 3]) -> i32 {
    const P: i64 = 2_147_483_647;
    let [a, b, c] = trigram.map(|ch| i64::from(u32::from(ch)));
    // Code points are under 2^21, so the sum is under 2^63; the remainders are under P in magnitude.
    let key = ((a * (1 << 42) + b * (1 << 21) + c) % P + calendar % P * 40_503) % P;
    i32::try_from(key).unwrap_or(i32::MAX)
}

/// A lead's keys in the index of the lead search: those of every trigram of its search text in its calendar
/// ([`search_key`]), sorted, each once.
pub fn search_keys(calendar: i64, search_text: &str) -> Vec<i32> {
    let chars: Vec<char> = search_text.chars().collect();
    let mut keys: Vec<i32> = chars
        .windows(3)
        .map(|w| search_key(calendar, [w[0], w[1], w[2]]))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
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
    /// The key's distinct trigrams to look up, sorted: the ones not [`CommonTrigrams`]; when every one is
    /// common, the rarest of them and each other that narrows the sample further; none for a key shorter than
    /// three characters; at most [`SEARCH_TRIGRAMS`] of a long key, spread over it.
    pub trigrams: Vec<String>,
    /// The calendar of each of the newest leads sampled ([`CommonTrigramsCache::SAMPLE`]) whose search text
    /// holds the key: how common the key is lately, and where. Empty for a search made without a sample.
    pub sampled_in: Vec<i64>,
}

/// The most trigrams a search asks the index for. A long key is looked up by that many of its trigrams: the
/// index narrows the leads to read, and the text decides.
pub const SEARCH_TRIGRAMS: usize = 32;

impl LeadSearch {
    /// The search for `key`, with the trigrams it asks the index for chosen against `common`.
    pub fn new(key: SearchKey, common: &CommonTrigrams) -> Self {
        let chars: Vec<char> = key.as_str().chars().collect();
        let mut all: Vec<[char; 3]> = chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
        all.sort_unstable();
        all.dedup();
        let rare: Vec<[char; 3]> = all
            .iter()
            .copied()
            .filter(|t| !common.contains(t))
            .collect();
        let mut chosen = if rare.is_empty() {
            common.narrowing(&all)
        } else {
            rare
        };
        chosen.sort_unstable();
        let step = chosen.len().div_ceil(SEARCH_TRIGRAMS).max(1);
        Self {
            key,
            trigrams: chosen
                .iter()
                .step_by(step)
                .map(|t| t.iter().collect())
                .collect(),
            sampled_in: Vec::new(),
        }
    }

    /// The calendars whose keys ([`search_key`]) this search by a viewer of `calendars` (`None`: every one)
    /// asks a backend's index for: the viewer's, or every calendar's ids, which `all` reads (a future that is
    /// awaited only when the search asks the index at all: a key of three characters or more).
    ///
    /// # Errors
    /// Those of `all`.
    pub async fn calendars<'a, E>(
        &self,
        calendars: Option<&'a [i64]>,
        all: impl Future<Output = std::result::Result<Vec<i64>, E>>,
    ) -> std::result::Result<Cow<'a, [i64]>, E> {
        match calendars {
            Some(calendars) => Ok(Cow::Borrowed(calendars)),
            None if self.trigrams.is_empty() => Ok(Cow::Borrowed(&[])),
            None => Ok(Cow::Owned(all.await?)),
        }
    }

    /// What this search asks a backend's index for in `calendars`: for each trigram it looks up, its key in
    /// each of them ([`search_key`]). A lead may hold the key when it holds one key of every list.
    pub fn keys_in(&self, calendars: &[i64]) -> Vec<Vec<i32>> {
        self.trigrams
            .iter()
            .filter_map(|t| <[char; 3]>::try_from(t.chars().collect::<Vec<_>>()).ok())
            .map(|trigram| {
                calendars
                    .iter()
                    .map(|&calendar| search_key(calendar, trigram))
                    .collect()
            })
            .collect()
    }

    /// How many of the newest leads sampled in `calendars` (`None`: any) hold the key.
    pub fn sampled_in(&self, calendars: Option<&[i64]>) -> usize {
        self.sampled_in
            .iter()
            .filter(|c| calendars.is_none_or(|all| all.contains(c)))
            .count()
    }
}

/// The trigrams common among the leads' search texts: each in more than one text in [`COMMON_SHARE`] of a
/// sample of them, with the texts of the sample it is in. A common trigram's list in a trigram index is long
/// (the operator code of most phones, a word every subject starts with, a common surname): reading it is most
/// of a search's time, and it narrows the leads little. So a search asks the index for its key's other
/// trigrams only, when it has any, and otherwise for those of its common ones that narrow the sample. Which
/// leads a search finds never depends on it: the search text decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonTrigrams {
    /// Each common trigram, with the texts of the sample that hold it (a bit per text).
    texts_with: HashMap<[char; 3], Vec<u64>>,
}

/// A trigram in more than one text in this many of a sample is common.
pub const COMMON_SHARE: usize = 20;

/// How many entries of a trigram's list in an index cost as much as reading one lead it lets through. A
/// common trigram is looked up beside another one only when it leaves out more than one lead of the sample
/// in this many of those it is in. (FTS5 reads a list entry in tens of nanoseconds; a lead read and tested
/// takes microseconds.)
const ENTRIES_PER_LEAD: usize = 50;

impl CommonTrigrams {
    /// The trigrams common among `texts` (a sample of search texts).
    pub fn of_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let sets: Vec<HashSet<[char; 3]>> = texts
            .into_iter()
            .map(|text| {
                let chars: Vec<char> = text.chars().collect();
                chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
            })
            .collect();
        let mut counts: HashMap<[char; 3], usize> = HashMap::new();
        for trigram in sets.iter().flatten() {
            *counts.entry(*trigram).or_default() += 1;
        }
        let mut texts_with: HashMap<[char; 3], Vec<u64>> = counts
            .into_iter()
            .filter(|&(_, n)| n * COMMON_SHARE > sets.len())
            .map(|(trigram, _)| (trigram, vec![0; sets.len().div_ceil(64)]))
            .collect();
        for (i, set) in sets.iter().enumerate() {
            for trigram in set {
                if let Some(bits) = texts_with.get_mut(trigram) {
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
        }
        Self { texts_with }
    }

    /// Whether `trigram` is common.
    fn contains(&self, trigram: &[char; 3]) -> bool {
        self.texts_with.contains_key(trigram)
    }

    /// Of `trigrams`, all common, those worth looking up together: the rarest in the sample, then each other
    /// that leaves out enough of the sample's texts the ones before let through ([`ENTRIES_PER_LEAD`]). The
    /// trigrams of one word (the letters of a common surname) are in the same texts: the first of them
    /// narrows the search as much as all of them, and each other's list would be read for nothing.
    fn narrowing(&self, trigrams: &[[char; 3]]) -> Vec<[char; 3]> {
        let ones = |bits: &[u64]| bits.iter().map(|b| b.count_ones() as usize).sum::<usize>();
        let mut by_count: Vec<(&[char; 3], &Vec<u64>)> = trigrams
            .iter()
            .filter_map(|t| self.texts_with.get_key_value(t))
            .collect();
        by_count.sort_by_key(|&(t, bits)| (ones(bits), *t));
        let mut chosen = Vec::new();
        let mut through: Option<Vec<u64>> = None;
        for (trigram, bits) in by_count {
            let narrowed: Vec<u64> = match &through {
                None => bits.clone(),
                Some(through) => through.iter().zip(bits).map(|(a, b)| a & b).collect(),
            };
            let left_out = through.as_deref().map_or(usize::MAX, ones) - ones(&narrowed);
            if left_out.saturating_mul(ENTRIES_PER_LEAD) > ones(bits) {
                chosen.push(*trigram);
                through = Some(narrowed);
            }
        }
        chosen
    }
}

/// The newest leads' search texts a backend sampled last, each with its lead's calendar, and the
/// [`CommonTrigrams`] among them, kept for [`CommonTrigramsCache::TTL`]: the leads a shop receives change
/// slowly.
#[derive(Debug, Default)]
pub struct CommonTrigramsCache(Mutex<Option<(Instant, Arc<Sample>)>>);

#[derive(Debug)]
struct Sample {
    texts: Vec<(String, i64)>,
    common: CommonTrigrams,
}

impl Sample {
    fn new(texts: Vec<(String, i64)>) -> Self {
        let common = CommonTrigrams::of_texts(texts.iter().map(|(text, _)| text.as_str()));
        Self { texts, common }
    }

    fn search(&self, key: SearchKey) -> LeadSearch {
        let mut search = LeadSearch::new(key, &self.common);
        search.sampled_in = self
            .texts
            .iter()
            .filter(|(text, _)| text.contains(search.key.as_str()))
            .map(|&(_, calendar)| calendar)
            .collect();
        search
    }
}

impl CommonTrigramsCache {
    /// How long a sample serves.
    pub const TTL: Duration = Duration::from_secs(600);

    /// How many of the newest leads' search texts a backend samples.
    pub const SAMPLE: u32 = 2000;

    /// The search for `key`, its trigrams chosen against the common trigrams of the newest leads sampled
    /// less than [`Self::TTL`] ago, or else of `sample`, awaited only then: the newest [`Self::SAMPLE`] search
    /// texts, each with its lead's calendar; with the calendars of the sampled leads that hold the key
    /// ([`LeadSearch::sampled_in`]).
    ///
    /// # Errors
    /// `sample`'s.
    pub async fn search<E>(
        &self,
        key: SearchKey,
        sample: impl Future<Output = Result<Vec<(String, i64)>, E>>,
    ) -> Result<LeadSearch, E> {
        let sample = match self.fresh() {
            Some(sample) => sample,
            None => {
                let sample = Arc::new(Sample::new(sample.await?));
                *self.lock() = Some((Instant::now(), Arc::clone(&sample)));
                sample
            }
        };
        Ok(sample.search(key))
    }

    fn fresh(&self) -> Option<Arc<Sample>> {
        self.lock()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < Self::TTL)
            .map(|(_, sample)| Arc::clone(sample))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<Sample>)>> {
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

    fn search(fragment: &str, common: &CommonTrigrams) -> Vec<String> {
        LeadSearch::new(SearchKey::parse(fragment).unwrap(), common).trigrams
    }

    /// Texts that all hold `+7916`, and a subscriber number each: the operator's trigrams are common, a number's
    /// are not; a search asks the index for its uncommon trigrams, or for all of them when none is uncommon.
    #[test]
    fn a_search_leaves_the_common_trigrams_out_of_its_index_lookup() {
        let texts: Vec<String> = (0..100).map(|i| format!("+7916{:07}", i * 7919)).collect();
        let common = CommonTrigrams::of_texts(texts.iter().map(String::as_str));
        assert!(common.contains(&['7', '9', '1']), "{common:?}");
        assert!(!common.contains(&['6', '1', '2']), "{common:?}");
        assert_eq!(search("916 123", &common), strings(&["123", "161", "612"]));
        assert_eq!(
            search("+7916", &common),
            strings(&["+79"]),
            "all common and in the same texts: one of them narrows as much as the three"
        );
        assert_eq!(search("91", &common), Vec::<String>::new());
        assert_eq!(
            search("916 123", &CommonTrigrams::default()),
            strings(&["123", "161", "612", "916"])
        );
    }

    /// A long key is looked up by [`SEARCH_TRIGRAMS`] of its trigrams at most, taken over the whole of it.
    #[test]
    fn a_long_key_asks_for_a_bounded_number_of_trigrams() {
        let long: String = ('a'..='z').chain('а'..='я').collect();
        let trigrams = search(&long, &CommonTrigrams::default());
        assert!(
            (SEARCH_TRIGRAMS / 2..=SEARCH_TRIGRAMS).contains(&trigrams.len()),
            "{trigrams:?}"
        );
        assert!(trigrams.contains(&"abc".to_owned()), "{trigrams:?}");
        assert!(
            trigrams.iter().any(|t| t.contains('ю')),
            "from the whole key: {trigrams:?}"
        );
    }

    /// When every trigram of a key is common, the search asks for the rarest, and for each other one only when
    /// it narrows the sample further: a common surname's trigrams all stand in the same texts, so one of them
    /// is asked for; two common trigrams of unrelated words each narrow the other's texts, so both are.
    #[test]
    fn of_common_trigrams_a_search_asks_for_those_that_narrow_the_sample() {
        let texts: Vec<String> = (0..100)
            .map(|i| {
                let surname = if i % 8 == 0 {
                    "кузнецова"
                } else {
                    "петрова"
                };
                let first = if i % 2 == 0 { "aba" } else { "ccc" };
                let second = if i % 3 == 0 { "bab" } else { "ddd" };
                format!("{surname}{i}\n{first}|{second}")
            })
            .collect();
        let common = CommonTrigrams::of_texts(texts.iter().map(String::as_str));
        let trigrams = search("Кузнецова", &common);
        assert_eq!(trigrams.len(), 1, "{trigrams:?}");
        assert_ne!(trigrams, ["ова"], "the rarest: ова is in every text");
        assert_eq!(search("abab", &common), strings(&["aba", "bab"]));
        assert_eq!(
            search("Кузнецова 17", &common),
            strings(&["а17"]),
            "an uncommon trigram is asked for alone, as before"
        );
    }

    /// A search made against a sample knows which of the sampled leads hold its key, by calendar: a viewer
    /// of other calendars sees none of them.
    #[test]
    fn a_search_counts_the_sampled_leads_that_hold_its_key_by_calendar() {
        let sample = Sample::new(vec![
            (search_folded("Кузнецова Анна\n+7 916 123-45-67"), 4),
            (search_folded("Петрова Мария\n+7 916 765-43-21"), 1),
            (search_folded("Кузнецова Ольга"), 4),
        ]);
        let search = sample.search(SearchKey::parse("кузнецова").unwrap());
        assert_eq!(search.sampled_in, [4, 4]);
        assert_eq!(search.sampled_in(None), 2);
        assert_eq!(search.sampled_in(Some(&[1, 2, 3])), 0);
        assert_eq!(search.sampled_in(Some(&[4])), 2);
        let phone = sample.search(SearchKey::parse("916 765").unwrap());
        assert_eq!(phone.sampled_in, [1], "folded alike");
    }
}
