//! The wgpu instance, adapter and device, and how device errors reach the engine: validation
//! errors the device did not expect are collected (never a panic), a lost device raises a flag.

use crate::backend::BackendError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What `dmm-synth info` prints for one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub api: String,
    pub device_type: String,
    pub driver: String,
    pub software: bool,
}

impl From<&wgpu::AdapterInfo> for AdapterSummary {
    fn from(i: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            name: i.name.clone(),
            api: format!("{:?}", i.backend),
            device_type: format!("{:?}", i.device_type),
            driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
            software: is_software(i),
        }
    }
}

/// llvmpipe, lavapipe, WARP, SwiftShader: adapters that run on the CPU.
pub fn is_software(i: &wgpu::AdapterInfo) -> bool {
    i.device_type == wgpu::DeviceType::Cpu
}

/// Vulkan, Metal and DX12 (compute-capable APIs); `WGPU_BACKEND` overrides.
fn inst_backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY)
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = inst_backends();
    wgpu::Instance::new(desc)
}

/// Every adapter wgpu can see on this machine.
pub fn adapters() -> Vec<AdapterSummary> {
    let inst = instance();
    pollster::block_on(inst.enumerate_adapters(inst_backends()))
        .iter()
        .map(|a| AdapterSummary::from(&a.get_info()))
        .collect()
}

/// Mesa's Vulkan device-selection layer connects to a Wayland display server to learn which GPU
/// drives it, and where none can be reached (`XDG_RUNTIME_DIR` unset: a server, a container,
/// CI, an X session under xvfb-run) libwayland prints `error: XDG_RUNTIME_DIR is invalid or not
/// set` on every GPU probe. The layer only reorders adapters; wgpu picks its own. This turns it
/// off (`NODEVICE_SELECT=1`) when `XDG_RUNTIME_DIR` is unset, unless the user set it; `main`
/// (every command, the window included) and the benchmark call it.
///
/// # Safety
/// It sets an environment variable: call it before any other thread exists (first thing in
/// `main`).
pub unsafe fn quiet_gpu_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        // SAFETY: the caller guarantees no other thread exists.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    errors: Arc<Mutex<Vec<String>>>,
    lost: Arc<AtomicBool>,
    lost_reason: Arc<Mutex<String>>,
}

impl GpuContext {
    /// Opens the best adapter (hardware preferred) and a device with that adapter's limits.
    pub fn new() -> Result<GpuContext, BackendError> {
        let inst = instance();
        let adapter = pollster::block_on(inst.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| BackendError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let supported = adapter.limits();
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: supported.max_storage_buffer_binding_size,
            max_buffer_size: supported.max_buffer_size,
            max_storage_buffers_per_shader_stage: 8,
            ..wgpu::Limits::downlevel_defaults()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("dmm-synth engine"),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| BackendError::NoAdapter(format!("{}: {e}", info.name)))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            // Logged and handed to the engine as a message; never a panic.
            if let Ok(mut v) = sink.lock()
                && v.len() < 16
            {
                v.push(e.to_string());
            }
        }));
        let lost = Arc::new(AtomicBool::new(false));
        let lost_reason = Arc::new(Mutex::new(String::new()));
        let (flag, why) = (lost.clone(), lost_reason.clone());
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut w) = why.lock() {
                *w = format!("{reason:?}: {msg}");
            }
            flag.store(true, Ordering::SeqCst);
        });
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
            errors,
            lost,
            lost_reason,
        })
    }

    pub fn software(&self) -> bool {
        is_software(&self.info)
    }

    /// The first problem the device reported since the last call, if any.
    pub fn check(&self) -> Result<(), BackendError> {
        if self.lost.load(Ordering::SeqCst) {
            let why = self
                .lost_reason
                .lock()
                .map(|w| w.clone())
                .unwrap_or_default();
            return Err(BackendError::DeviceLost(why));
        }
        let first = self.errors.lock().ok().and_then(|mut v| {
            let f = v.first().cloned();
            v.clear();
            f
        });
        match first {
            Some(e) => Err(BackendError::Failed {
                backend: "gpu".into(),
                msg: e,
            }),
            None => Ok(()),
        }
    }
}
