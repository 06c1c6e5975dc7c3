//! The parameters an architecture declares, counted from its JSON without
//! building a single layer, with overflow-checked arithmetic. A model file is
//! refused when its architecture declares more values than the tensors it
//! holds, so a few bytes of JSON (`Embedding(input_dim=10**11)`) cannot make
//! the loader allocate what the file does not contain.

use crate::error::{Result, RnnError};
use crate::memory;
use crate::models::graph_spec::GraphSpec;
use crate::models::seq2seq::Seq2SeqConfig;
use crate::models::spec::ModelSpec;
use crate::nn::config::{DynLayerConfig, Flow};
use crate::recurrent::{CellKind, RnnConfig};
use serde_json::Value;

/// Parameter values (weights and biases, not optimizer slots) of a native
/// architecture spec: `{"type": "sequential", ...}` or `{"type": "seq2seq", "config": ...}`.
pub fn declared_params(spec: &Value) -> Result<usize> {
    match spec.get("type").and_then(Value::as_str) {
        Some("seq2seq") => seq2seq(&Seq2SeqConfig::parse(spec.get("config").ok_or_else(|| RnnError::value("model.config: missing"))?)?),
        Some("functional") => {
            let g = GraphSpec::parse(spec)?;
            let mut total = 0usize;
            for l in &g.layers {
                total = memory::total(&l.name, &[total, layer(&l.name, &*l.config, l.inputs[0])?])?;
            }
            Ok(total)
        }
        Some("sequential") | None => sequential(&ModelSpec::parse(spec)?),
        Some(other) => Err(RnnError::value(format!("model.type: expected \"sequential\", \"seq2seq\" or \"functional\", got {other:?}"))),
    }
}

fn sequential(spec: &ModelSpec) -> Result<usize> {
    let mut total = 0usize;
    for l in &spec.layers {
        total = memory::total(&l.name, &[total, layer(&l.name, &*l.config, l.input)?])?;
    }
    Ok(total)
}

/// The parameter values one layer declares for its input.
fn layer(name: &str, config: &dyn DynLayerConfig, input: Flow) -> Result<usize> {
    let what = format!("{name} ({})", config.class());
    // The parsed config as JSON: the sizes each class declares, read by name.
    let c = config.to_json();
    let size = |key: &str| c.get(key).and_then(Value::as_u64).map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
    match config.class() {
        "Embedding" => memory::elements(&what, &[size("input_dim"), size("output_dim")]),
        "Dense" => {
            let bias = usize::from(c.get("use_bias").and_then(Value::as_bool).unwrap_or(true));
            memory::elements(&what, &[input.features().saturating_add(bias), size("units")])
        }
        class @ ("SimpleRNN" | "LSTM" | "GRU") => {
            let cell = match class {
                "LSTM" => CellKind::Lstm,
                "GRU" => CellKind::Gru,
                _ => CellKind::Rnn(crate::kernels::Nonlinearity::Tanh),
            };
            let flag = |key: &str, default: bool| c.get(key).and_then(Value::as_bool).unwrap_or(default);
            let (bidirectional, bias) = (flag("bidirectional", false), flag("use_bias", true));
            let (units, layers) = (size("units"), size("num_layers").max(1));
            // `param_elements` counts two biases; Keras's one bias (`RecurrentConfig::single_bias`)
            // has no bias_hh, except a GRU with reset_after; `use_bias=False` has none.
            let with_two = recurrent(&what, cell, input.features(), units, layers, bidirectional, bias)?;
            let biases = match (bias, class == "GRU" && flag("reset_after", true)) {
                (false, _) => 0,
                (true, false) => 1,
                (true, true) => 2,
            };
            let one = memory::elements(&what, &[cell.gates(), units.max(1), layers, if bidirectional { 2 } else { 1 }])?;
            Ok(with_two - one * (2 - biases))
        }
        _ => Ok(0), // Dropout, Masking, Concatenate: no parameters
    }
}

fn recurrent(what: &str, cell: CellKind, input: usize, units: usize, num_layers: usize, bidirectional: bool, bias: bool) -> Result<usize> {
    let rc = RnnConfig::new(cell, input.max(1), units.max(1));
    RnnConfig { num_layers, bidirectional, bias, ..rc }.param_elements().map_err(|e| RnnError::memory(format!("{what}: {e}")))
}

fn seq2seq(cfg: &Seq2SeqConfig) -> Result<usize> {
    let e = cfg.embedding_dim;
    let encoder =
        RnnConfig { num_layers: cfg.num_layers, bidirectional: cfg.bidirectional_encoder, ..RnnConfig::new(cfg.cell, e, cfg.units) };
    let decoder_units = memory::mul("units", cfg.units, if cfg.bidirectional_encoder { 2 } else { 1 })?;
    let decoder = RnnConfig { num_layers: cfg.num_layers, ..RnnConfig::new(cfg.cell, e, decoder_units) };
    memory::total(
        "seq2seq",
        &[
            memory::elements("src_vocab", &[cfg.src_vocab, e])?,
            memory::elements("tgt_vocab", &[cfg.tgt_vocab, e])?,
            encoder.param_elements()?,
            decoder.param_elements()?,
            memory::elements("tgt_vocab", &[cfg.tgt_vocab, decoder_units.saturating_add(1)])?,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_match_the_layers_and_overflow_is_an_error() {
        let spec = json!({"type": "sequential", "input": {"kind": "indices"}, "layers": [
            {"class": "Embedding", "name": "e", "config": {"input_dim": 100, "output_dim": 8}},
            {"class": "LSTM", "name": "l", "config": {"units": 16}},
            {"class": "Dense", "name": "d", "config": {"units": 1, "activation": "sigmoid"}}]});
        // Keras's one bias per gate (a GRU with reset_after: two).
        assert_eq!(declared_params(&spec).unwrap(), 100 * 8 + 4 * 16 * (8 + 16 + 1) + 17);
        let gru = |reset_after: bool| {
            json!({"type": "sequential", "input": {"kind": "indices"}, "layers": [
                {"class": "Embedding", "name": "e", "config": {"input_dim": 10, "output_dim": 2}},
                {"class": "GRU", "name": "g", "config": {"units": 3, "reset_after": reset_after, "bidirectional": true}}]})
        };
        assert_eq!(declared_params(&gru(true)).unwrap(), 20 + 2 * 9 * (2 + 3 + 2));
        assert_eq!(declared_params(&gru(false)).unwrap(), 20 + 2 * 9 * (2 + 3 + 1));
        let no_bias = json!({"type": "sequential", "input": {"kind": "indices"}, "layers": [
            {"class": "Embedding", "name": "e", "config": {"input_dim": 10, "output_dim": 2}},
            {"class": "SimpleRNN", "name": "s", "config": {"units": 3, "use_bias": false, "num_layers": 2}}]});
        assert_eq!(declared_params(&no_bias).unwrap(), 20 + 3 * (2 + 3) + 3 * (3 + 3));
        let huge = json!({"type": "sequential", "input": {"kind": "indices"}, "layers": [
            {"class": "Embedding", "name": "e", "config": {"input_dim": 1u64 << 62, "output_dim": 1u64 << 20}}]});
        assert!(matches!(declared_params(&huge), Err(RnnError::Memory(_))));
        let s2s = json!({"type": "seq2seq", "config": {"src_vocab": 10, "tgt_vocab": 12, "embedding_dim": 4, "units": 5}});
        assert!(declared_params(&s2s).unwrap() > 10 * 4 + 12 * 4);
    }
}
