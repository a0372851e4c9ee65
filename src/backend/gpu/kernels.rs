//! WGSL sources (`shaders/`), their compilation with errors mapped back to file:line:column, and
//! the compute pipelines, all sharing one bind-group layout.

use crate::backend::BackendError;
use std::collections::HashMap;

/// Prepended to every kernel file.
pub const COMMON: (&str, &str) = (
    "shaders/common.wgsl",
    include_str!("../../../shaders/common.wgsl"),
);

/// Kernel files and their entry points.
pub const FILES: &[(&str, &str, &[&str])] = &[
    (
        "shaders/elementwise.wgsl",
        include_str!("../../../shaders/elementwise.wgsl"),
        &[
            "accum",
            "identity",
            "gate",
            "sine",
            "tanh_",
            "relu",
            "mul",
            "noise",
            "phasor_tick",
            "phasor_audio",
            "hold",
            "time",
        ],
    ),
    (
        "shaders/lincomb.wgsl",
        include_str!("../../../shaders/lincomb.wgsl"),
        &["lincomb"],
    ),
    (
        "shaders/matmul.wgsl",
        include_str!("../../../shaders/matmul.wgsl"),
        &["matmul_tiled", "matmul_regs"],
    ),
    (
        "shaders/softmax.wgsl",
        include_str!("../../../shaders/softmax.wgsl"),
        &["softmax_rows", "softmax_cols"],
    ),
    (
        "shaders/reduce.wgsl",
        include_str!("../../../shaders/reduce.wgsl"),
        &["partial", "normalize_apply", "max_norm", "rms", "compare"],
    ),
    (
        "shaders/transpose.wgsl",
        include_str!("../../../shaders/transpose.wgsl"),
        &["transpose"],
    ),
    (
        "shaders/io.wgsl",
        include_str!("../../../shaders/io.wgsl"),
        &["gather", "frame"],
    ),
];

/// Compiles `COMMON + src`. A compile or validation error names the file (common or kernel),
/// line and column of the first message, and the message.
pub fn compile(
    device: &wgpu::Device,
    file: &str,
    src: &str,
) -> Result<wgpu::ShaderModule, BackendError> {
    let full = format!("{}{}", COMMON.1, src);
    let common_lines = COMMON.1.lines().count() as u32;
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let desc = wgpu::ShaderModuleDescriptor {
        label: Some(file),
        source: wgpu::ShaderSource::Wgsl(full.into()),
    };
    let module = device.create_shader_module(desc);
    let Some(err) = pollster::block_on(scope.pop()) else {
        return Ok(module);
    };
    let info = pollster::block_on(module.get_compilation_info());
    let located = info.messages.iter().find_map(|m| {
        m.location
            .map(|l| (l.line_number, l.line_position, m.message.clone()))
    });
    let (file, line, col, msg) = match located {
        Some((line, col, msg)) if line > common_lines => {
            (file.to_string(), line - common_lines, col, msg)
        }
        Some((line, col, msg)) => (COMMON.0.to_string(), line, col, msg),
        None => (file.to_string(), 0, 0, err.to_string()),
    };
    let msg = renumber(&msg, common_lines);
    Err(BackendError::Shader {
        file,
        line,
        col,
        msg,
    })
}

/// The compiler's source excerpts number lines of `COMMON + src`; give them the kernel file's.
fn renumber(msg: &str, common_lines: u32) -> String {
    let fix = |n: &str| match n.parse::<u32>() {
        Ok(v) if v > common_lines => (v - common_lines).to_string(),
        _ => n.to_string(),
    };
    msg.lines()
        .map(|l| {
            let t = l.trim_start();
            let indent = &l[..l.len() - t.len()];
            let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
            if !digits.is_empty() && t[digits.len()..].starts_with(" │") {
                return format!("{indent}{}{}", fix(&digits), &t[digits.len()..]);
            }
            if let Some(rest) = t.strip_prefix("┌─ ")
                && let Some((file, pos)) = rest.split_once(':')
                && let Some((line, col)) = pos.split_once(':')
            {
                return format!("{indent}┌─ {file}:{}:{col}", fix(line));
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub struct Kernels {
    pub layout: wgpu::BindGroupLayout,
    pipelines: HashMap<&'static str, wgpu::ComputePipeline>,
}

fn storage(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// Size of one dispatch's parameter slot in the uniform buffer (the dynamic-offset alignment).
pub const PARAM_SLOT: u64 = 256;

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Result<Kernels, BackendError> {
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("dmm kernels"),
            entries: &[
                storage(0, false),
                storage(1, false),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: wgpu::BufferSize::new(64),
                    },
                    count: None,
                },
                storage(3, true),
                storage(4, false),
                storage(5, false),
                storage(6, false),
            ],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("dmm kernels"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let mut pipelines = HashMap::new();
        for &(file, src, entries) in FILES {
            let module = compile(device, file, src)?;
            for &entry in entries {
                let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
                let p = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
                if let Some(e) = pollster::block_on(scope.pop()) {
                    return Err(BackendError::Shader {
                        file: file.to_string(),
                        line: 0,
                        col: 0,
                        msg: format!("entry point {entry}: {e}"),
                    });
                }
                pipelines.insert(entry, p);
            }
        }
        Ok(Kernels { layout, pipelines })
    }

    pub fn get(&self, entry: &str) -> &wgpu::ComputePipeline {
        // Every name used by the backend is in FILES (a bug otherwise).
        &self.pipelines[entry]
    }
}
