//! [`param_fields!`]: the parameter methods of [`super::Layer`] for a layer
//! whose parameters are fields of its struct, each with its gradient field
//! (Dense's and Conv1D's `kernel` and `bias`, LayerNormalization's `gamma`
//! and `beta`), written once instead of once per layer.

/// Inside `impl<F: Float> Layer<F> for X<F>`:
/// `param_fields!(|s| [("kernel", kernel, dkernel, true), ("bias", bias, dbias, s.use_bias)]);`
/// lists the parameters in order: name, value field, gradient field, and
/// whether the layer has it (an expression of `s`, the layer). Writes
/// `param_names`, `param`, `grad`, `assign_param`, `visit_params` and
/// `zero_grad` (which clears every gradient field, present or not).
macro_rules! param_fields {
    (|$s:ident| [$(($name:literal, $value:ident, $grad:ident, $present:expr)),+ $(,)?]) => {
        fn param_names(&self) -> Vec<String> {
            let $s = self;
            let mut names = Vec::new();
            $(if $present { names.push($name.to_string()); })+
            names
        }

        fn param(&self, i: usize) -> ndarray::ArrayViewD<'_, F> {
            let $s = self;
            let mut views = Vec::new();
            $(if $present { views.push($s.$value.view().into_dyn()); })+
            views.swap_remove(i)
        }

        fn grad(&self, i: usize) -> ndarray::ArrayViewD<'_, F> {
            let $s = self;
            let mut views = Vec::new();
            $(if $present { views.push($s.$grad.view().into_dyn()); })+
            views.swap_remove(i)
        }

        fn assign_param(&mut self, i: usize, value: ndarray::ArrayViewD<F>) -> $crate::error::Result<()> {
            let $s = self;
            let mut views = Vec::new();
            $(if $present { views.push($s.$value.view_mut().into_dyn()); })+
            views.swap_remove(i).assign(&value);
            Ok(())
        }

        fn visit_params(&mut self, f: &mut $crate::nn::ParamVisitor<'_, F>) {
            let $s = self;
            let mut i = 0;
            $(if $present {
                f(i, $s.$value.view_mut().into_dyn(), $s.$grad.view().into_dyn());
                i += 1;
            })+
            let _ = i;
        }

        fn zero_grad(&mut self) {
            $(self.$grad.fill(F::zero());)+
        }
    };
}

pub(crate) use param_fields;
