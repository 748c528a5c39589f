//! # zengzhi-sim — the simulator on the engine core
