//! Holds no code: the package exists for its `kernels` benchmark (`cargo bench -p rustrnn-benches`).
