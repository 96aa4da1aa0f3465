//! The scenario file as TOML sees it: every table and key, with spans so that a bad value can
//! be reported with its line. Unknown keys are rejected (`deny_unknown_fields`); meaning and
//! bounds are checked in [`super::Scenario::parse`].

use serde::Deserialize;
use toml::Spanned;

/// A value that may be written as a number or as a string with a unit (`1`, `0.5`, `"1%"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    /// An integer, e.g. `queue = 64`.
    Int(i64),
    /// A float, e.g. `loss = 0.5`.
    Float(f64),
    /// A string with its unit, e.g. `"10mbit"`.
    Str(String),
}

impl Scalar {
    /// The value as it would be written in an impairment spec.
    pub(crate) fn text(&self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Str(s) => s.trim().to_string(),
        }
    }
}

/// A spanned scalar.
pub(crate) type Val = Spanned<Scalar>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    pub name: Option<Spanned<String>>,
    pub seed: Option<Spanned<u64>>,
    pub duration: Option<Val>,
    #[serde(default)]
    pub host: Vec<Spanned<HostFile>>,
    #[serde(default)]
    pub link: Vec<Spanned<LinkFile>>,
    #[serde(default)]
    pub flow: Vec<Spanned<FlowFile>>,
}

/// `[[host]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostFile {
    pub name: Spanned<String>,
    pub addr: Spanned<String>,
    #[serde(default)]
    pub tcp: TcpFile,
}

/// `[host.tcp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpFile {
    pub cc: Option<Spanned<String>>,
    pub sack: Option<Spanned<bool>>,
    pub timestamps: Option<Spanned<bool>>,
    pub ecn: Option<Spanned<bool>>,
    pub send_buffer: Option<Val>,
    pub recv_buffer: Option<Val>,
    pub nagle: Option<Spanned<bool>>,
    pub delayed_ack: Option<Val>,
    pub rto_min: Option<Val>,
    pub rto_initial: Option<Val>,
    pub window_scale: Option<Spanned<i64>>,
}

/// The impairment keys shared by `[[link]]` and its `[link.a_to_b]` / `[link.b_to_a]`
/// overrides; `$extra` are the fields only the outer table has.
macro_rules! impair_table {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            $($extra)*
            pub rate: Option<Val>,
            pub delay: Option<Val>,
            pub jitter: Option<Val>,
            pub loss: Option<Val>,
            pub burst_loss: Option<Val>,
            pub burst_len: Option<Val>,
            pub reorder: Option<Val>,
            pub reorder_delay: Option<Val>,
            pub duplicate: Option<Val>,
            pub corrupt: Option<Val>,
            pub queue: Option<Val>,
        }

        impl $name {
            /// The impairment keys that are set, in documentation order.
            pub(crate) fn impair_keys(&self) -> Vec<(&'static str, &Val)> {
                [
                    ("rate", &self.rate),
                    ("delay", &self.delay),
                    ("jitter", &self.jitter),
                    ("loss", &self.loss),
                    ("burst_loss", &self.burst_loss),
                    ("burst_len", &self.burst_len),
                    ("reorder", &self.reorder),
                    ("reorder_delay", &self.reorder_delay),
                    ("duplicate", &self.duplicate),
                    ("corrupt", &self.corrupt),
                    ("queue", &self.queue),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
                .collect()
            }
        }
    };
}

impair_table!(
    /// `[[link]]`.
    LinkFile {
        pub a: Spanned<String>,
        pub b: Spanned<String>,
        pub a_to_b: Option<Spanned<DirFile>>,
        pub b_to_a: Option<Spanned<DirFile>>,
        pub seed: Option<Spanned<u64>>,
    }
);

impair_table!(
    /// `[link.a_to_b]` or `[link.b_to_a]`: overrides for one direction.
    DirFile {}
);

/// `[[flow]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowFile {
    pub kind: Spanned<String>,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub label: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub start: Option<Val>,
    pub bytes: Option<Val>,
    pub write_size: Option<Val>,
    pub request: Option<Val>,
    pub response: Option<Val>,
    pub request_writes: Option<Spanned<i64>>,
    pub count: Option<Spanned<i64>>,
    pub concurrency: Option<Spanned<i64>>,
    pub nodelay: Option<Spanned<bool>>,
    pub recv_pause: Option<Val>,
    pub recv_pause_after: Option<Val>,
}
