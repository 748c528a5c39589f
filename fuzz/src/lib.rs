//! The fuzz targets' shared checks (see `checks`).

pub mod checks;
