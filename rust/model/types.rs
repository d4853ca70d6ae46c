//! The inputs and outputs of the cost model. Plain Rust: no Python types here.

use std::fmt;

/// How model FLOPs are counted. Recorded in every output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convention {
    /// 6·N_active·D (Kaplan et al. 2020; Hoffmann et al. 2022).
    SixND,
    /// 6·N + 12·L·H·Q·T per token (Chowdhery et al. 2022, PaLM Appendix B).
    Palm,
    /// Per-layer matmul count including logits (Narayanan et al. 2021).
    Megatron,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recompute {
    None,
    Selective,
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pretrain,
    Finetune,
    Lora,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Fp32,
    Tf32,
    Bf16,
    Fp16,
    Fp8,
    Fp4,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimizer {
    /// Adam/AdamW: two fp32 moments (+ an fp32 master copy under mixed precision).
    Adam,
    /// 8-bit Adam (Dettmers et al. 2022): two 1-byte moments.
    Adam8bit,
    /// SGD with momentum: one fp32 momentum buffer.
    Sgd,
}

/// How attention is computed, for the activation memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attention {
    /// FlashAttention (Dao et al. 2022): the s×s scores are never stored; each head keeps one
    /// fp32 log-sum-exp per token for the backward pass.
    Flash,
    /// Materialised scores: softmax output, dropout mask and dropout output, s×s per head
    /// (Korthikanti et al. 2022's 5·a·s/h term).
    Eager,
}

/// How the frozen base weights of LoRA are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseWeights {
    /// 16-bit.
    Bf16,
    /// 8-bit (LLM.int8(), Dettmers et al. 2022).
    Int8,
    /// 4-bit NormalFloat with double-quantised constants (QLoRA, Dettmers et al. 2023).
    Nf4,
}

impl BaseWeights {
    /// Bytes per frozen base parameter. NF4: 4 bits plus the quantisation constants, which
    /// QLoRA's double quantisation brings from 0.5 to 0.127 bits per parameter (§3, "Double
    /// Quantization": 8/64 + 32/(64·256) = 0.127).
    pub fn bytes(self) -> f64 {
        match self {
            BaseWeights::Bf16 => 2.0,
            BaseWeights::Int8 => 1.0,
            BaseWeights::Nf4 => (4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0)) / 8.0,
        }
    }
}

/// How the loss is computed, for the logits' memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// The whole s × V logits, in fp32 for the cross-entropy.
    Full,
    /// A chunked (fused) loss that never materialises them.
    Chunked,
}

macro_rules! named_enum {
    ($t:ty { $($name:literal => $v:expr),+ $(,)? }) => {
        impl $t {
            pub const NAMES: &'static [&'static str] = &[$($name),+];
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some($v),)+ _ => None }
            }
            pub fn name(self) -> &'static str {
                $(if self == $v { return $name; })+
                unreachable!()
            }
        }
    };
}

named_enum!(Convention { "6nd" => Convention::SixND, "palm" => Convention::Palm, "megatron" => Convention::Megatron });
named_enum!(Recompute { "none" => Recompute::None, "selective" => Recompute::Selective, "full" => Recompute::Full });
named_enum!(Mode { "pretrain" => Mode::Pretrain, "finetune" => Mode::Finetune, "lora" => Mode::Lora });
named_enum!(Precision {
    "fp32" => Precision::Fp32, "tf32" => Precision::Tf32, "bf16" => Precision::Bf16,
    "fp16" => Precision::Fp16, "fp8" => Precision::Fp8, "fp4" => Precision::Fp4,
});
named_enum!(Optimizer { "adam" => Optimizer::Adam, "adam8bit" => Optimizer::Adam8bit, "sgd" => Optimizer::Sgd });
named_enum!(Logits { "full" => Logits::Full, "chunked" => Logits::Chunked });
named_enum!(Attention { "flash" => Attention::Flash, "eager" => Attention::Eager });
named_enum!(BaseWeights { "bf16" => BaseWeights::Bf16, "int8" => BaseWeights::Int8, "nf4" => BaseWeights::Nf4 });
pub(crate) use named_enum; // (serve.rs names its storage widths the same way)

/// Transformer shape. Every field is optional; a formula that needs a missing field says so.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Architecture {
    pub layers: Option<f64>,
    pub d_model: Option<f64>,
    pub heads: Option<f64>,
    pub kv_heads: Option<f64>,
    pub head_dim: Option<f64>,
    pub ffn_dim: Option<f64>,
    pub vocab: Option<f64>,
    pub seq_len: Option<f64>,
    pub experts: Option<f64>,
    pub experts_per_token: Option<f64>,
    pub gated_mlp: bool,
}

impl Architecture {
    pub const FIELDS: &'static [&'static str] = &[
        "layers", "d_model", "heads", "kv_heads", "head_dim", "ffn_dim", "vocab", "seq_len", "experts",
        "experts_per_token",
    ];

    pub fn get(&self, field: &str) -> Option<f64> {
        match field {
            "layers" => self.layers,
            "d_model" => self.d_model,
            "heads" => self.heads,
            "kv_heads" => self.kv_heads,
            "head_dim" => self.head_dim,
            "ffn_dim" => self.ffn_dim,
            "vocab" => self.vocab,
            "seq_len" => self.seq_len,
            "experts" => self.experts,
            "experts_per_token" => self.experts_per_token,
            _ => None,
        }
    }

    pub fn set(&mut self, field: &str, value: Option<f64>) -> bool {
        let slot = match field {
            "layers" => &mut self.layers,
            "d_model" => &mut self.d_model,
            "heads" => &mut self.heads,
            "kv_heads" => &mut self.kv_heads,
            "head_dim" => &mut self.head_dim,
            "ffn_dim" => &mut self.ffn_dim,
            "vocab" => &mut self.vocab,
            "seq_len" => &mut self.seq_len,
            "experts" => &mut self.experts,
            "experts_per_token" => &mut self.experts_per_token,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// Head dimension as given, else d_model / heads.
    pub fn head_dim_or_derived(&self) -> Option<f64> {
        self.head_dim.or(match (self.d_model, self.heads) {
            (Some(d), Some(h)) => Some(d / h),
            _ => None,
        })
    }
}

/// How the run's duration is pinned down.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Utilisation {
    /// Model FLOPs utilisation in (0, 1]: gives GPU-hours.
    Mfu(f64),
    /// GPU-hours as published: gives the implied MFU.
    GpuHours(f64),
    /// Wall-clock days on `gpus` GPUs: gives GPU-hours, then the implied MFU.
    WallClockDays(f64),
}

/// LoRA trainable parameters: from a rank (adapters on the query and value projections of
/// every layer, as in Hu et al. 2021) or as a fraction of the base parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trainable {
    Rank(f64),
    Fraction(f64),
}

/// One fully resolved point of the cost model: every catalog name already looked up.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub params: f64,
    pub active_params: f64,
    pub tokens: f64,
    pub arch: Architecture,
    pub convention: Convention,
    pub recompute: Recompute,
    pub attention: Attention,
    pub logits: Logits,
    pub mode: Mode,
    pub lora: Option<Trainable>,
    /// LoRA's frozen base weights; None: at the training precision's width.
    pub base_weights: Option<BaseWeights>,
    pub precision: Precision,
    /// Dense peak of the GPU at `precision`, TFLOP/s.
    pub peak_tflops: f64,
    pub utilisation: Utilisation,
    pub gpus: Option<f64>,
    pub usd_per_gpu_hour: Option<f64>,
    pub watts: Option<f64>,
    pub pue: f64,
    pub grid_kg_co2e_per_kwh: Option<f64>,
    pub gpu_memory_gb: Option<f64>,
    pub optimizer: Optimizer,
    pub zero_stage: u8,
    pub tensor_parallel: f64,
    /// Sequence parallelism under TP (Korthikanti et al. 2022): the layer norms', dropouts' and
    /// block inputs' activations split by TP too.
    pub sequence_parallel: bool,
    pub pipeline_parallel: f64,
    /// Context parallelism (ring attention): each of CP ranks holds 1/CP of every sequence; the
    /// model states are replicated across them and ZeRO shards over data × context parallel.
    pub context_parallel: f64,
    /// Expert parallelism: the routed experts split over EP ranks taken from data × context
    /// parallel; dense and attention parameters are not split.
    pub expert_parallel: f64,
    pub micro_batch: f64,
    /// Virtual pipeline stages per GPU (interleaved 1F1B): more micro-batches in flight on the
    /// first stage (Korthikanti et al. 2022, §4.2.3).
    pub interleave: f64,
    /// Framework memory per GPU outside the tensors (CUDA context, kernels, library workspaces), GB.
    pub framework_gb: f64,
    /// Memory the framework holds beyond the kept tensors while training (the backward pass's
    /// transient buffers, the caching allocator's unused blocks), as a share of the activations
    /// and logits of the busiest pipeline stage.
    pub allocator_share: f64,
    /// Dropout in training: its masks (and, eager, the dropped scores) are kept for the backward
    /// pass (Korthikanti et al. 2022 count them; Llama-family models train without).
    pub dropout: bool,
    /// Dropout on LoRA's adapter inputs (PEFT's lora_dropout > 0): each adapted projection keeps
    /// its dropped input and mask.
    pub lora_dropout: bool,
    /// Paged optimizer states (bitsandbytes' paged optimizers, QLoRA §3): in unified memory, moved
    /// to the host when the GPU runs out, so they need not fit.
    pub paged_optimizer: bool,
}

impl Default for Point {
    /// A neutral point: one parameter and one token at MFU 1 on a 1 TFLOP/s GPU, bf16, Adam,
    /// no parallelism, no price or power. Callers set what they mean.
    fn default() -> Point {
        Point {
            params: 1.0,
            active_params: 1.0,
            tokens: 1.0,
            arch: Architecture::default(),
            convention: Convention::SixND,
            recompute: Recompute::None,
            attention: Attention::Flash,
            logits: Logits::Full,
            mode: Mode::Pretrain,
            lora: None,
            base_weights: None,
            precision: Precision::Bf16,
            peak_tflops: 1.0,
            utilisation: Utilisation::Mfu(1.0),
            gpus: None,
            usd_per_gpu_hour: None,
            watts: None,
            pue: 1.0,
            grid_kg_co2e_per_kwh: None,
            gpu_memory_gb: None,
            optimizer: Optimizer::Adam,
            zero_stage: 0,
            tensor_parallel: 1.0,
            sequence_parallel: true,
            pipeline_parallel: 1.0,
            context_parallel: 1.0,
            expert_parallel: 1.0,
            micro_batch: 1.0,
            interleave: 1.0,
            framework_gb: 0.0,
            allocator_share: 0.0,
            dropout: true,
            lora_dropout: false,
            paged_optimizer: false,
        }
    }
}

/// Per-GPU memory, GB (1e9 bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    pub weights_gb: f64,
    pub gradients_gb: f64,
    pub optimizer_gb: f64,
    /// None when the architecture needed for the activation formula is missing.
    pub activations_gb: Option<f64>,
    /// The logits of one micro-batch, on the pipeline's last stage.
    pub logits_gb: f64,
    /// Framework memory beside the tensors: the context and the allocator's share (included in
    /// `total_gb`).
    pub overhead_gb: f64,
    pub total_gb: f64,
    pub data_parallel: Option<f64>,
    pub fits: Option<bool>,
    pub min_gpus: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    pub trainable_params: f64,
    pub model_flops_per_token: f64,
    pub model_flops: f64,
    pub hardware_flops: f64,
    pub peak_tflops: f64,
    pub mfu: f64,
    pub hfu: f64,
    pub gpu_hours: f64,
    pub wall_clock_days: Option<f64>,
    pub cost_usd: Option<f64>,
    pub energy_kwh: Option<f64>,
    pub co2e_kg: Option<f64>,
    pub memory: Memory,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ModelError {
    /// A formula needs architecture fields the model does not give.
    MissingArchitecture { what: String, missing: Vec<String> },
    /// An input outside its domain: (field, given, accepted).
    OutOfRange { field: String, given: String, accepted: String },
    /// A global batch of fewer sequences than data parallelism × micro-batch: no layout (a sweep
    /// over GPU counts meets it at every large count, and the layout search at most candidates, so
    /// its message is written only when shown).
    SmallBatch { given: f64, sequences: f64, seq_len: f64 },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::MissingArchitecture { what, missing } => write!(
                f,
                "{what} needs architecture field{} {} that the model does not give",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ),
            ModelError::OutOfRange { field, given, accepted } => {
                write!(f, "{field}: got {given}, expected {accepted}")
            }
            ModelError::SmallBatch { given, sequences, seq_len } => write!(
                f,
                "global_batch_tokens: got {}, expected a batch of at least data parallel × micro-batch = {sequences} \
                 sequences of {seq_len} tokens",
                given.shown()
            ),
        }
    }
}

impl std::error::Error for ModelError {}

/// How an input is shown in an error: numbers as Python shows them (`1e+200`, `0.4`, `5e-324`),
/// never as hundreds of digits.
pub trait Shown {
    fn shown(&self) -> String;
}

impl Shown for f64 {
    fn shown(&self) -> String {
        let x = *self;
        if x != 0.0 && x.is_finite() && (x.abs() >= 1e16 || x.abs() < 1e-4) {
            let s = format!("{x:e}"); // 1e200, 5e-324, 1.5e-7
            match s.split_once('e') {
                Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
                _ => s,
            }
        } else {
            format!("{x}")
        }
    }
}

impl Shown for &str {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for u8 {
    fn shown(&self) -> String {
        self.to_string()
    }
}

pub(crate) fn out_of_range(field: &str, given: impl Shown, accepted: &str) -> ModelError {
    ModelError::OutOfRange { field: field.to_string(), given: given.shown(), accepted: accepted.to_string() }
}
