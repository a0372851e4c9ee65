//! WGSL sources (`shaders/`), their compilation with errors mapped back to file:line:column, and
//! the compute pipelines, all sharing one bind-group layout. The pipeline list comes from the
//! neuron table (each row names its entry points) plus the backend's own kernels; an entry point
//! that no file defines stops the backend at load, naming it.

use crate::backend::BackendError;
use crate::neurons::table::{Grid, wgsl_entries, wgsl_entry_grids};
use std::collections::HashMap;

/// Prepended to every kernel file.
pub const COMMON: (&str, &str) = (
    "shaders/common.wgsl",
    include_str!("../../../shaders/common.wgsl"),
);

/// The kernel files. Which entry points each defines is read from the source (`entry_points`), so
/// a new kernel only needs its function; a new file needs a line here.
pub const FILES: &[(&str, &str)] = &[
    (
        "shaders/elementwise.wgsl",
        include_str!("../../../shaders/elementwise.wgsl"),
    ),
    (
        "shaders/lincomb.wgsl",
        include_str!("../../../shaders/lincomb.wgsl"),
    ),
    (
        "shaders/matmul.wgsl",
        include_str!("../../../shaders/matmul.wgsl"),
    ),
    (
        "shaders/warp.wgsl",
        include_str!("../../../shaders/warp.wgsl"),
    ),
    (
        "shaders/softmax.wgsl",
        include_str!("../../../shaders/softmax.wgsl"),
    ),
    (
        "shaders/matrices.wgsl",
        include_str!("../../../shaders/matrices.wgsl"),
    ),
    (
        "shaders/reduce.wgsl",
        include_str!("../../../shaders/reduce.wgsl"),
    ),
    (
        "shaders/transpose.wgsl",
        include_str!("../../../shaders/transpose.wgsl"),
    ),
    ("shaders/io.wgsl", include_str!("../../../shaders/io.wgsl")),
    (
        "shaders/audio.wgsl",
        include_str!("../../../shaders/audio.wgsl"),
    ),
];

/// The entry points the backend runs for itself, not for a neuron type: the down stroke and the
/// read-back (scalars and audio, display frames), each with its grid (all 256 elements to a
/// workgroup: `plan::lincomb_groups`, `plan::groups_1d`).
pub const BACKEND_ENTRIES: &[(&str, Grid)] = &[
    ("lincomb", Grid::Elements),
    ("gather", Grid::Elements),
    ("frame", Grid::Elements),
];

/// Every entry point the backend needs, each with who names it: the neuron table's rows, then the
/// backend's own.
pub fn needed_entries() -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = wgsl_entries()
        .into_iter()
        .map(|(e, t)| (e, format!("neuron type {t}")))
        .collect();
    v.extend(
        BACKEND_ENTRIES
            .iter()
            .map(|&(e, _)| (e, "the gpu backend".to_string())),
    );
    v
}

/// Every entry point with the grid it is dispatched on and who names it (an entry dispatched on
/// two grids is listed twice).
pub fn needed_grids() -> Vec<(&'static str, Grid, String)> {
    let mut v: Vec<(&'static str, Grid, String)> = wgsl_entry_grids()
        .into_iter()
        .map(|(e, g, t)| (e, g, format!("neuron type {t}")))
        .collect();
    v.extend(
        BACKEND_ENTRIES
            .iter()
            .map(|&(e, g)| (e, g, "the gpu backend".to_string())),
    );
    v
}

/// Checks each entry's `@workgroup_size` against the grid it is dispatched on (see
/// `Grid::check_workgroup`): a mismatch would leave elements uncomputed or write past them, with
/// no error from the GPU, so it stops the backend at load, naming the entry, the file, the size
/// and what the grid needs. Entries no file defines are left to `locate`.
pub fn check_workgroups(
    files: &[(&str, &str)],
    needed: &[(&'static str, Grid, String)],
) -> Result<(), BackendError> {
    for (entry, grid, who) in needed {
        let Some(&(file, src)) = files
            .iter()
            .find(|(_, src)| entry_points(src).iter().any(|e| e == entry))
        else {
            continue;
        };
        let code = strip_comments(&format!("{}\n{src}", COMMON.1));
        let fail = |msg: String| BackendError::Entry {
            entry: entry.to_string(),
            msg: format!("named by {who} ({grid:?}), in {file}: {msg}"),
        };
        let wg = workgroup_size(&code, entry).map_err(fail)?;
        grid.check_workgroup(wg).map_err(|why| {
            fail(format!(
                "@workgroup_size({}, {}, {}) does not fit: {why}",
                wg[0], wg[1], wg[2]
            ))
        })?;
    }
    Ok(())
}

/// The `@workgroup_size` of the entry point `entry` in `code` (comments stripped), its missing
/// dimensions 1; a dimension may be a literal (`256`, `256u`) or a `const` of `code`.
pub fn workgroup_size(code: &str, entry: &str) -> Result<[u32; 3], String> {
    let attrs = attributes_of(code, entry).ok_or_else(|| format!("no fn {entry}"))?;
    let at = attrs
        .find("@workgroup_size")
        .ok_or_else(|| format!("fn {entry} has no @workgroup_size"))?;
    let rest = attrs[at + "@workgroup_size".len()..].trim_start();
    let args = rest
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map(|(a, _)| a)
        .ok_or_else(|| format!("fn {entry}: @workgroup_size without (...)"))?;
    let mut wg = [1u32; 3];
    let dims: Vec<&str> = args
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if dims.is_empty() || dims.len() > 3 {
        return Err(format!("fn {entry}: @workgroup_size({args})"));
    }
    for (slot, d) in wg.iter_mut().zip(&dims) {
        *slot = dimension(code, d)
            .ok_or_else(|| format!("fn {entry}: cannot read @workgroup_size({args})"))?;
    }
    Ok(wg)
}

/// The attributes written before `fn entry` (back to the previous `;` or `}`).
fn attributes_of<'a>(code: &'a str, entry: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = code[from..].find(entry) {
        let at = from + i;
        from = at + entry.len();
        let ends_word = !code[from..].chars().next().is_some_and(is_ident);
        let head = code[..at].trim_end();
        let spaced = code[..at].ends_with(char::is_whitespace);
        let Some(head) = head.strip_suffix("fn") else {
            continue;
        };
        if ends_word && spaced && !head.chars().next_back().is_some_and(is_ident) {
            let start = head.rfind([';', '}']).map_or(0, |p| p + 1);
            return Some(&head[start..]);
        }
    }
    None
}

/// A literal (`64`, `64u`, `64i`) or the literal value of a module `const`.
fn dimension(code: &str, d: &str) -> Option<u32> {
    let literal = |t: &str| t.trim_end_matches(['u', 'i']).parse::<u32>().ok();
    if let Some(v) = literal(d) {
        return Some(v);
    }
    if !d.chars().all(is_ident) {
        return None;
    }
    let mut from = 0;
    while let Some(i) = code[from..].find("const") {
        let rest = code[from + i + "const".len()..].trim_start();
        from += i + "const".len();
        let Some(after) = rest.strip_prefix(d) else {
            continue;
        };
        if after.chars().next().is_some_and(is_ident) {
            continue;
        }
        let (_, value) = after.split_once('=')?;
        let (value, _) = value.split_once(';')?;
        return literal(value.trim());
    }
    None
}

/// The `@compute` entry points a WGSL source defines, in order of appearance (comments skipped).
pub fn entry_points(src: &str) -> Vec<String> {
    let code = strip_comments(src);
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("@compute") {
        rest = &rest[at + "@compute".len()..];
        if let Some(name) = next_fn_name(rest) {
            out.push(name.to_string());
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The name after the next `fn` keyword.
fn next_fn_name(s: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = s[from..].find("fn") {
        let at = from + i;
        let before_ok = !s[..at].chars().next_back().is_some_and(is_ident);
        let after = &s[at + 2..];
        if before_ok && after.starts_with(char::is_whitespace) {
            let name = after.trim_start();
            let end = name.find(|c: char| !is_ident(c)).unwrap_or(name.len());
            return (end > 0).then(|| &name[..end]);
        }
        from = at + 2;
    }
    None
}

/// WGSL without `//` line comments and (nested) `/* */` block comments.
fn strip_comments(src: &str) -> String {
    let (mut out, mut depth, mut chars) = (String::new(), 0usize, src.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('/', Some('*')) => {
                chars.next();
                depth += 1;
            }
            ('*', Some('/')) if depth > 0 => {
                chars.next();
                depth -= 1;
            }
            ('/', Some('/')) if depth == 0 => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// For every needed entry point, the index in `files` of the one file that defines it. An entry
/// defined nowhere, or in two files, is an error naming it and who needs it.
pub fn locate(
    files: &[(&str, &str)],
    needed: &[(&'static str, String)],
) -> Result<Vec<(&'static str, usize)>, BackendError> {
    let defined: Vec<Vec<String>> = files.iter().map(|(_, src)| entry_points(src)).collect();
    let mut out = Vec::with_capacity(needed.len());
    for (entry, who) in needed {
        let at: Vec<usize> = (0..files.len())
            .filter(|&f| defined[f].iter().any(|e| e == entry))
            .collect();
        match at[..] {
            [f] => out.push((*entry, f)),
            [] => {
                let all: Vec<&str> = defined.iter().flatten().map(String::as_str).collect();
                return Err(BackendError::Entry {
                    entry: entry.to_string(),
                    msg: format!(
                        "named by {who}, but no @compute function of shaders/ has that name (they are: {})",
                        all.join(", ")
                    ),
                });
            }
            _ => {
                let names: Vec<&str> = at.iter().map(|&f| files[f].0).collect();
                return Err(BackendError::Entry {
                    entry: entry.to_string(),
                    msg: format!("named by {who}, defined twice: in {}", names.join(" and ")),
                });
            }
        }
    }
    Ok(out)
}

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
    /// Every kernel the neuron table and the backend name, from `shaders/`.
    pub fn new(device: &wgpu::Device) -> Result<Kernels, BackendError> {
        check_workgroups(FILES, &needed_grids())?;
        Kernels::build(device, FILES, &needed_entries())
    }

    /// The pipelines of the `needed` entry points, found in `files`; an entry no file defines is
    /// an error naming it, before anything compiles.
    pub fn build(
        device: &wgpu::Device,
        files: &[(&str, &str)],
        needed: &[(&'static str, String)],
    ) -> Result<Kernels, BackendError> {
        let located = locate(files, needed)?;
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
                        min_binding_size: wgpu::BufferSize::new(super::plan::PARAMS_BYTES),
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
        for (f, &(file, src)) in files.iter().enumerate() {
            let entries: Vec<&'static str> = located
                .iter()
                .filter(|(_, at)| *at == f)
                .map(|(e, _)| *e)
                .collect();
            if entries.is_empty() {
                continue;
            }
            let module = compile(device, file, src)?;
            for entry in entries {
                pipelines.insert(entry, pipeline(device, &pl, &module, file, entry)?);
            }
        }
        Ok(Kernels { layout, pipelines })
    }

    /// The pipeline of an entry point. Every entry a dispatch names comes from the table or
    /// `BACKEND_ENTRIES`, checked at load; a miss is reported, not a panic.
    pub fn get(&self, entry: &str) -> Result<&wgpu::ComputePipeline, BackendError> {
        self.pipelines
            .get(entry)
            .ok_or_else(|| BackendError::Entry {
                entry: entry.to_string(),
                msg: "no pipeline was built for it".into(),
            })
    }
}

fn pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    file: &str,
    entry: &str,
) -> Result<wgpu::ComputePipeline, BackendError> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let p = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: Some(layout),
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    });
    match pollster::block_on(scope.pop()) {
        Some(e) => Err(BackendError::Shader {
            file: file.to_string(),
            line: 0,
            col: 0,
            msg: format!("entry point {entry}: {e}"),
        }),
        None => Ok(p),
    }
}
