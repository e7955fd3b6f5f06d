//! The embedded font: DejaVu Sans (Bitstream Vera licence, see `src/plot/FONT-LICENSE`), registered
//! with plotters' `ab_glyph` text backend so that charts render identically on any machine, without
//! fontconfig, FreeType or any system font.

use plotters::style::FontStyle;
use std::sync::OnceLock;

/// The font family name every chart uses.
pub(super) const FAMILY: &str = "sans-serif";

/// DejaVu Sans, embedded in the binary.
static DEJAVU_SANS: &[u8] = include_bytes!("DejaVuSans.ttf");

/// Registers the embedded font once per process (for the normal style; bold and italic fall back to it).
///
/// Returns an error message if the embedded font cannot be parsed, which would be a build defect.
pub(super) fn ensure_registered() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "the embedded DejaVu Sans font cannot be parsed".to_string())
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_registers() {
        assert!(ensure_registered().is_ok());
        assert!(DEJAVU_SANS.len() > 100_000);
    }
}
