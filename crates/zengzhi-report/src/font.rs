//! The CJK font the charts are drawn with.
//!
//! PNG charts rasterise every glyph from a real font file, so Chinese labels need a font with
//! Chinese glyphs. The font is looked up once per process:
//!
//! 1. the file named by the `ZENGZHI_FONT` environment variable (a `.ttf`, `.otf` or `.ttc`;
//!    for a collection the first face is used), then
//! 2. a list of well-known paths of the Debian/Ubuntu packages `fonts-wqy-microhei`,
//!    `fonts-noto-cjk` and `fonts-wqy-zenhei` (and the usual places on other systems).
//!
//! When none is found, [`load`] fails with an error naming the package to install: a chart
//! whose Chinese labels come out as empty boxes is worse than no chart.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale};

/// The environment variable that names the font file to use.
pub const FONT_ENV: &str = "ZENGZHI_FONT";

/// The family name the font is registered under in `plotters`, and the `font-family` written
/// into the SVG files: a CSS list, so a browser falls back to whatever CJK font it has.
pub const FAMILY: &str = "WenQuanYi Micro Hei, Noto Sans CJK SC, Source Han Sans SC, \
                          Microsoft YaHei, PingFang SC, Hiragino Sans GB, sans-serif";

/// Well-known locations of fonts with Chinese glyphs, best first.
pub const KNOWN_PATHS: &[&str] = &[
    // Debian/Ubuntu: fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    // Debian/Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    // Debian/Ubuntu: fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    // Fedora / Arch
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    // macOS
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    // Windows
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\simhei.ttf",
];

/// A probe character: a font without it cannot label the charts.
const PROBE: char = '积';

/// The font in use.
#[derive(Debug)]
pub struct LoadedFont {
    /// Where it was read from.
    pub path: PathBuf,
    /// The whole file (leaked once per process: `plotters` keeps `'static` font data).
    pub bytes: &'static [u8],
    /// The face in use (the first of a collection).
    pub face: FontRef<'static>,
}

static FONT: OnceLock<Result<LoadedFont, String>> = OnceLock::new();

/// Finds, checks and registers the CJK font (once per process) and returns it.
pub fn load() -> io::Result<&'static LoadedFont> {
    FONT.get_or_init(find_and_register).as_ref().map_err(|msg| io::Error::new(io::ErrorKind::NotFound, msg.clone()))
}

fn find_and_register() -> Result<LoadedFont, String> {
    let (path, data) = find(std::env::var_os(FONT_ENV), KNOWN_PATHS)?;
    register(path, data)
}

/// Picks the font file: `env` (the value of `ZENGZHI_FONT`) if set, else the first usable of
/// `candidates`. Returns its path and contents, checked to be a font with Chinese glyphs.
fn find(env: Option<std::ffi::OsString>, candidates: &[&str]) -> Result<(PathBuf, Vec<u8>), String> {
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        // An explicit choice that does not work is an error, not a reason to look elsewhere.
        return match check(&path) {
            Ok(data) => Ok((path, data)),
            Err(why) => Err(format!(
                "{FONT_ENV}={}: {why}; set it to a .ttf/.ttc/.otf file with Chinese glyphs, or unset it \
                 and install the package fonts-wqy-microhei",
                path.display()
            )),
        };
    }
    let mut tried = Vec::new();
    for candidate in candidates {
        let path = Path::new(candidate);
        if !path.is_file() {
            continue;
        }
        match check(path) {
            Ok(data) => return Ok((path.to_path_buf(), data)),
            Err(why) => tried.push(format!("{}: {why}", path.display())),
        }
    }
    let mut msg = String::from(
        "no font with Chinese glyphs found for the report charts: install the package \
         fonts-wqy-microhei (apt-get install fonts-wqy-microhei; or fonts-noto-cjk), \
         or set ZENGZHI_FONT to a .ttf/.ttc/.otf file with Chinese glyphs",
    );
    if !tried.is_empty() {
        msg.push_str(" (unusable: ");
        msg.push_str(&tried.join("; "));
        msg.push(')');
    }
    Err(msg)
}

/// Reads `path` and checks it is a font (the first face of a collection) with Chinese glyphs.
fn check(path: &Path) -> Result<Vec<u8>, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let face =
        FontRef::try_from_slice_and_index(&data, 0).map_err(|_| "not a readable TrueType/OpenType font".to_string())?;
    if face.glyph_id(PROBE).0 == 0 {
        return Err("the font has no Chinese glyphs".into());
    }
    Ok(data)
}

/// Keeps the font for the life of the process and registers it with `plotters`.
fn register(path: PathBuf, data: Vec<u8>) -> Result<LoadedFont, String> {
    let bytes: &'static [u8] = Box::leak(data.into_boxed_slice());
    for name in [FAMILY, "sans-serif"] {
        for style in [plotters::style::FontStyle::Normal, plotters::style::FontStyle::Bold] {
            plotters::style::register_font(name, style, bytes).map_err(|_| "plotters rejected the font".to_string())?;
        }
    }
    let face = FontRef::try_from_slice_and_index(bytes, 0).map_err(|e| e.to_string())?;
    Ok(LoadedFont { path, bytes, face })
}

/// A glyph rasterised to an alpha-coverage bitmap (0 = no ink, 255 = full ink).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raster {
    pub glyph_id: u16,
    pub width: u32,
    pub height: u32,
    pub alpha: Vec<u8>,
}

impl Raster {
    /// Number of pixels with some ink.
    pub fn ink(&self) -> usize {
        self.alpha.iter().filter(|&&a| a > 32).count()
    }
}

/// Rasterises `c` at `px` pixels with the loaded font; `None` draws the `.notdef` glyph
/// (what a missing character would look like). Used to prove Chinese text really is drawn.
pub fn rasterize(c: Option<char>, px: f32) -> io::Result<Raster> {
    let face = &load()?.face;
    let id = match c {
        Some(c) => face.glyph_id(c),
        None => ab_glyph::GlyphId(0),
    };
    let glyph = id.with_scale_and_position(PxScale::from(px), ab_glyph::point(0.0, px));
    let Some(outline) = face.outline_glyph(glyph) else {
        return Ok(Raster { glyph_id: id.0, width: 0, height: 0, alpha: Vec::new() });
    };
    let bounds = outline.px_bounds();
    let (width, height) = (bounds.width().ceil() as u32, bounds.height().ceil() as u32);
    let mut alpha = vec![0u8; (width * height) as usize];
    outline.draw(|x, y, cov| {
        if x < width && y < height {
            alpha[(y * width + x) as usize] = (cov.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    });
    Ok(Raster { glyph_id: id.0, width, height, alpha })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_font_names_the_package() {
        let err = find(None, &[]).unwrap_err();
        assert!(err.contains("fonts-wqy-microhei") && err.contains("ZENGZHI_FONT"), "{err}");
        let err = find(None, &["/nonexistent/font.ttc"]).unwrap_err();
        assert!(err.contains("fonts-wqy-microhei"), "{err}");
    }

    #[test]
    fn unusable_fonts_are_rejected_with_a_reason() {
        let dir = std::env::temp_dir().join(format!("zengzhi-font-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.ttf");
        std::fs::write(&junk, b"not a font at all").unwrap();
        let err = find(Some(junk.clone().into_os_string()), KNOWN_PATHS).unwrap_err();
        assert!(err.contains("ZENGZHI_FONT=") && err.contains("not a readable"), "{err}");
        let err = find(None, &[junk.to_str().unwrap()]).unwrap_err();
        assert!(err.contains("unusable") && err.contains("junk.ttf"), "{err}");
        let err = find(Some("/nonexistent/x.ttf".into()), KNOWN_PATHS).unwrap_err();
        assert!(err.starts_with("ZENGZHI_FONT=/nonexistent/x.ttf"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_font_without_chinese_is_rejected() {
        // Any Latin-only font of the machine will do; skip quietly where there is none.
        let latin = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        ];
        if let Some(path) = latin.iter().find(|p| Path::new(p).is_file()) {
            let err = find(None, &[path]).unwrap_err();
            assert!(err.contains("no Chinese glyphs"), "{err}");
        }
    }
}
