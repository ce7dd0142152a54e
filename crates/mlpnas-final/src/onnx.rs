//! A model as ONNX (`model.onnx`): the graph `predict` computes after preprocessing, written with
//! prost-encoded ONNX messages (no ONNX runtime in the binary).
//!
//! Input `features`, `[N, F]` float: the card's `feature_names` in order, i.e. a row after
//! imputation and one-hot encoding (what [`crate::Predictor::predict_raw`] takes). The graph
//! standardizes it (`Sub`, `Div` by the card's standardizer, when it has one), then each dense
//! layer is a `Gemm` followed by its activation (`Relu`, `Sigmoid`, `Tanh`, `Elu`); dropout is
//! absent (inference). Output `probabilities`, `[N, C]`: `Softmax` over the classes, or for a
//! one-unit sigmoid output `[1 - p, p]` (`Sigmoid` of `-z` and of `z`, `Concat`), as
//! `predict_proba` gives (up to float rounding). A regression's output is `prediction`, `[N, 1]`:
//! the linear unit as it is, in the label's units (the exported weights have the target's
//! standardization folded in).
//! Opset 13, IR version 7.

use mlpnas_core::{Activation, Architecture, Layer, LayerWeights, OutputKind};
use mlpnas_data::Standardizer;
use prost::Message;

/// The ONNX opset the graph uses.
pub const OPSET: i64 = 13;
/// The ONNX IR version written.
const IR_VERSION: i64 = 7;
/// Name of the graph's input.
pub const INPUT: &str = "features";
/// Name of the graph's output.
pub const OUTPUT: &str = "probabilities";
/// Name of a regression graph's output.
pub const PREDICTION: &str = "prediction";

/// The ONNX bytes of `arch` with `weights`, standardizing inputs with `standardizer` first.
pub fn encode(arch: &Architecture, weights: &[LayerWeights], standardizer: Option<&Standardizer>) -> Vec<u8> {
    let mut g = Graph::default();
    let mut x = INPUT.to_string();
    if let Some(s) = standardizer {
        let n = s.mean.len() as i64;
        g.init("standardize_mean", vec![1, n], s.mean.clone());
        g.init("standardize_std", vec![1, n], s.std.clone());
        x = g.node("Sub", &[&x, "standardize_mean"], "centred", vec![]);
        x = g.node("Div", &[&x, "standardize_std"], "standardized", vec![]);
    }
    let mut dense = 0;
    let mut classes = 0;
    let mut output_name = OUTPUT;
    for layer in &arch.layers {
        match *layer {
            Layer::Dropout { .. } => {}
            Layer::Dense { activation, .. } => {
                x = g.gemm(dense, &x, &weights[dense]);
                let out = format!("a{dense}");
                x = match activation {
                    Activation::Relu => g.node("Relu", &[&x], &out, vec![]),
                    Activation::Sigmoid => g.node("Sigmoid", &[&x], &out, vec![]),
                    Activation::Tanh => g.node("Tanh", &[&x], &out, vec![]),
                    Activation::Elu => g.node("Elu", &[&x], &out, vec![float_attr("alpha", 1.0)]),
                };
                dense += 1;
            }
            Layer::Output { output, units } => {
                x = g.gemm(dense, &x, &weights[dense]);
                match output {
                    OutputKind::Softmax => {
                        g.node("Softmax", &[&x], OUTPUT, vec![int_attr("axis", 1)]);
                        classes = units as i64;
                    }
                    OutputKind::Sigmoid => {
                        // [1 - p, p] as [sigmoid(-z), sigmoid(z)].
                        let p = g.node("Sigmoid", &[&x], "p", vec![]);
                        let minus = g.node("Neg", &[&x], "minus_z", vec![]);
                        let q = g.node("Sigmoid", &[&minus], "q", vec![]);
                        g.node("Concat", &[&q, &p], OUTPUT, vec![int_attr("axis", 1)]);
                        classes = 2;
                    }
                    OutputKind::Linear => {
                        g.node("Identity", &[&x], PREDICTION, vec![]);
                        classes = 1;
                        output_name = PREDICTION;
                    }
                }
            }
        }
    }
    let graph = GraphProto {
        node: g.nodes,
        name: "mlpnas".into(),
        initializer: g.inits,
        input: vec![value_info(INPUT, arch.input_dim as i64)],
        output: vec![value_info(output_name, classes)],
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "mlpnas".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
    };
    model.encode_to_vec()
}

/// Nodes and initializers as they are added.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
}

impl Graph {
    /// Adds a float initializer.
    fn init(&mut self, name: &str, dims: Vec<i64>, values: Vec<f32>) {
        self.inits.push(TensorProto { dims, data_type: FLOAT, float_data: values, name: name.into() });
    }

    /// Adds a node; returns its output's name.
    fn node(&mut self, op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> String {
        let n = self.nodes.len();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: format!("{op}_{n}"),
            op_type: op.into(),
            attribute,
        });
        output.to_string()
    }

    /// `x W + b` of dense layer `i`.
    fn gemm(&mut self, i: usize, x: &str, w: &LayerWeights) -> String {
        let (kernel, bias) = (format!("dense{i}_kernel"), format!("dense{i}_bias"));
        self.init(&kernel, w.kernel.shape.iter().map(|&d| d as i64).collect(), w.kernel.data.clone());
        self.init(&bias, vec![w.bias.data.len() as i64], w.bias.data.clone());
        self.node("Gemm", &[x, &kernel, &bias], &format!("z{i}"), vec![])
    }
}

fn value_info(name: &str, width: i64) -> ValueInfoProto {
    let dim = |d: Dim| Dimension { value: Some(d) };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim: vec![dim(Dim::DimParam("N".into())), dim(Dim::DimValue(width))] }),
            })),
        }),
    }
}

fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f, i: 0, r#type: ATTRIBUTE_FLOAT }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), f: 0.0, i, r#type: ATTRIBUTE_INT }
}

// The ONNX messages mlpnas writes (onnx.proto, field numbers as there; fields it never sets left
// out, which protobuf readers treat as absent).

/// `TensorProto.DataType.FLOAT`.
const FLOAT: i32 = 1;
/// `AttributeProto.AttributeType.FLOAT`.
const ATTRIBUTE_FLOAT: i32 = 1;
/// `AttributeProto.AttributeType.INT`.
const ATTRIBUTE_INT: i32 = 2;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, tag = "2")]
    f: f32,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(oneof = "TypeValue", tags = "1")]
    value: Option<TypeValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum TypeValue {
    #[prost(message, tag = "1")]
    TensorType(TensorTypeProto),
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(oneof = "Dim", tags = "1, 2")]
    value: Option<Dim>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Dim {
    #[prost(int64, tag = "1")]
    DimValue(i64),
    #[prost(string, tag = "2")]
    DimParam(String),
}
