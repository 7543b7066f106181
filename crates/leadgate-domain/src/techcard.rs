//! The arithmetic of a tech card: how much material one piece and the whole line take, and how long its edge
//! is (for hemming and grommets).
//!
//! Sizes arrive in metres as decimals and feed prices, so the arithmetic is exact decimal arithmetic. Every
//! step is checked: a site that sends an absurd size gets no figure, never a crash or a wrapped number.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::vocabulary;

/// Where a tech card is in production: new, in production, done, in that order only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TechCardStatus {
    /// Formed, not started.
    New,
    /// On the machines.
    InProduction,
    /// Made.
    Done,
}

vocabulary!(TechCardStatus, "tech card status", {
    New => "new",
    InProduction => "in_production",
    Done => "done",
});

impl TechCardStatus {
    /// The status a card moves to from this one; `None` for a card that is done.
    pub fn next(self) -> Option<TechCardStatus> {
        match self {
            TechCardStatus::New => Some(TechCardStatus::InProduction),
            TechCardStatus::InProduction => Some(TechCardStatus::Done),
            TechCardStatus::Done => None,
        }
    }

    /// The Russian word the UI shows.
    pub fn label(self) -> &'static str {
        match self {
            TechCardStatus::New => "Новая",
            TechCardStatus::InProduction => "В производстве",
            TechCardStatus::Done => "Готова",
        }
    }
}

/// The derived figures of one order line. Each is `None` when an input is missing or the result would not
/// fit in a [`Decimal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Width × height, in m².
    pub area_per_piece: Option<Decimal>,
    /// Width × height × quantity, in m².
    pub total_area: Option<Decimal>,
    /// 2 × (width + height), in m, for one piece.
    pub perimeter: Option<Decimal>,
}

/// Computes the figures of a line from its width and height (metres) and its quantity.
///
/// Results are normalised (`4`, not `4.0000`). This never panics: an overflow gives `None` for that figure,
/// and so does a negative width, height or quantity (no size a print shop makes; the line keeps it as sent).
pub fn figures(
    width: Option<Decimal>,
    height: Option<Decimal>,
    quantity: Option<Decimal>,
) -> Figures {
    let size = |d: Option<Decimal>| d.filter(|d| !d.is_sign_negative() || d.is_zero());
    let (width, height, quantity) = (size(width), size(height), size(quantity));
    let area_per_piece = width.zip(height).and_then(|(w, h)| w.checked_mul(h));
    let total_area = area_per_piece
        .zip(quantity)
        .and_then(|(a, q)| a.checked_mul(q));
    let perimeter = width
        .zip(height)
        .and_then(|(w, h)| w.checked_add(h))
        .and_then(|sum| sum.checked_mul(Decimal::TWO));
    Figures {
        area_per_piece: area_per_piece.map(|d| d.normalize()),
        total_area: total_area.map(|d| d.normalize()),
        perimeter: perimeter.map(|d| d.normalize()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_two_by_two_banner_times_two() {
        let f = figures(Some(d("2")), Some(d("2")), Some(d("2")));
        assert_eq!(f.area_per_piece, Some(d("4")));
        assert_eq!(f.total_area, Some(d("8")));
        assert_eq!(f.perimeter, Some(d("8")));
    }

    #[test]
    fn fractions_are_exact_and_normalised() {
        let f = figures(Some(d("1.50")), Some(d("0.70")), Some(d("3")));
        assert_eq!(f.area_per_piece.unwrap().to_string(), "1.05");
        assert_eq!(f.total_area.unwrap().to_string(), "3.15");
        assert_eq!(f.perimeter.unwrap().to_string(), "4.4");
    }

    #[test]
    fn missing_inputs_give_missing_figures() {
        let f = figures(Some(d("2")), None, Some(d("2")));
        assert_eq!(f, figures(None, None, None));
        assert_eq!(f.area_per_piece, None);
        let f = figures(Some(d("2")), Some(d("3")), None);
        assert_eq!(f.area_per_piece, Some(d("6")));
        assert_eq!(f.total_area, None);
        assert_eq!(f.perimeter, Some(d("10")));
    }

    #[test]
    fn a_negative_size_or_quantity_gives_no_figure_from_it() {
        let f = figures(Some(d("-2")), Some(d("3")), Some(d("1")));
        assert_eq!(f, figures(None, Some(d("3")), Some(d("1"))));
        let f = figures(Some(d("2")), Some(d("3")), Some(d("-1")));
        assert_eq!(f.area_per_piece, Some(d("6")));
        assert_eq!(f.total_area, None);
        let f = figures(Some(d("-0")), Some(d("3")), Some(d("1")));
        assert_eq!(f.area_per_piece, Some(d("0")));
    }

    #[test]
    fn overflow_gives_none_not_a_panic() {
        let f = figures(Some(Decimal::MAX), Some(Decimal::MAX), Some(Decimal::MAX));
        assert_eq!(f.area_per_piece, None);
        assert_eq!(f.total_area, None);
        assert_eq!(f.perimeter, None);
    }

    #[test]
    fn figures_serialise_as_strings() {
        let f = figures(Some(d("2")), Some(d("2")), Some(d("2")));
        let json = serde_json::to_value(f).unwrap();
        assert_eq!(json["area_per_piece"], "4");
        assert_eq!(json["perimeter"], "8");
    }

    fn any_decimal() -> impl Strategy<Value = Decimal> {
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            0u32..=28,
        )
            .prop_map(|(lo, mid, hi, negative, scale)| {
                Decimal::from_parts(lo, mid, hi, negative, scale)
            })
    }

    proptest! {
        #[test]
        fn never_panics(
            w in proptest::option::of(any_decimal()),
            h in proptest::option::of(any_decimal()),
            q in proptest::option::of(any_decimal()),
        ) {
            let _ = figures(w, h, q);
        }
    }
}
