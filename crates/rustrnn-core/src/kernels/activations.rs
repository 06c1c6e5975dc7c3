//! Element-wise activation kernels, in place over slices.
//!
//! Placeholder scalar version; replaced by the SIMD kernels.

pub fn sigmoid_f32(x: &mut [f32]) {
    for v in x {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}

pub fn tanh_f32(x: &mut [f32]) {
    for v in x {
        *v = v.tanh();
    }
}

pub fn sigmoid_f64(x: &mut [f64]) {
    for v in x {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}

pub fn tanh_f64(x: &mut [f64]) {
    for v in x {
        *v = v.tanh();
    }
}
