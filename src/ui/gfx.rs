//! The window's GPU side: a wgpu surface on the winit window, egui-wgpu painting into it, and
//! frame capture. A capture paints the same egui output into an offscreen texture and copies that
//! to the CPU (the surface's COPY_SRC usage is not available everywhere). A second window (the
//! output window) gets its own surface and egui renderer on the same device (`Gfx::sibling`).

use super::UiError;
use std::path::Path;
use std::sync::Arc;
use winit::event_loop::ActiveEventLoop;
use winit::window::Window;

pub struct Gfx {
    pub window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    config: wgpu::SurfaceConfiguration,
    renderer: egui_wgpu::Renderer,
    pub adapter: wgpu::AdapterInfo,
    /// Kept for further windows on the same device.
    instance: wgpu::Instance,
    adapter_handle: wgpu::Adapter,
}

/// One painted frame read back from the GPU: RGBA8, row-major, no padding.
pub struct Captured {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Captured {
    pub fn save_png(&self, path: &Path) -> Result<(), UiError> {
        image::save_buffer(
            path,
            &self.rgba,
            self.width,
            self.height,
            image::ExtendedColorType::Rgba8,
        )
        .map_err(|e| UiError::Capture(format!("{}: {e}", path.display())))
    }
}

fn gpu(what: &str) -> impl FnOnce(String) -> UiError + '_ {
    move |e| UiError::Gpu(format!("{what}: {e}"))
}

/// Picks the surface's pixel format and configures it at the window's size.
fn configure(
    surface: &wgpu::Surface<'static>,
    adapter: &wgpu::Adapter,
    device: &wgpu::Device,
    window: &Window,
) -> Result<wgpu::SurfaceConfiguration, UiError> {
    let caps = surface.get_capabilities(adapter);
    // egui blends in gamma space on non-sRGB targets and converts on sRGB ones; either works,
    // a plain 8-bit format keeps captures byte-comparable across drivers.
    let format = caps
        .formats
        .iter()
        .copied()
        .find(|f| {
            matches!(
                f,
                wgpu::TextureFormat::Rgba8Unorm | wgpu::TextureFormat::Bgra8Unorm
            )
        })
        .or_else(|| caps.formats.first().copied())
        .ok_or_else(|| UiError::Gpu("the window surface offers no pixel format".into()))?;
    let size = window.inner_size();
    let config = wgpu::SurfaceConfiguration {
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        format,
        width: size.width.max(1),
        height: size.height.max(1),
        present_mode: wgpu::PresentMode::AutoVsync,
        desired_maximum_frame_latency: 2,
        alpha_mode: caps
            .alpha_modes
            .first()
            .copied()
            .unwrap_or(wgpu::CompositeAlphaMode::Auto),
        view_formats: vec![],
        color_space: wgpu::SurfaceColorSpace::Auto,
    };
    surface.configure(device, &config);
    Ok(config)
}

impl Gfx {
    /// Creates the surface for `window` and a device that can present to it.
    pub fn new(el: &ActiveEventLoop, window: Arc<Window>) -> Result<Gfx, UiError> {
        let desc = wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(
            el.owned_display_handle(),
        ));
        let instance = wgpu::Instance::new(desc);
        let surface = instance
            .create_surface(window.clone())
            .map_err(|e| gpu("creating the window surface")(e.to_string()))?;
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: Some(&surface),
            ..Default::default()
        }))
        .map_err(|e| gpu("finding a GPU adapter that can draw to the window")(e.to_string()))?;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("dmm-synth window"),
            required_limits:
                wgpu::Limits::downlevel_webgl2_defaults().using_resolution(adapter.limits()),
            ..Default::default()
        }))
        .map_err(|e| gpu("opening the GPU device")(e.to_string()))?;
        let config = configure(&surface, &adapter, &device, &window)?;
        let renderer = egui_wgpu::Renderer::new(
            &device,
            config.format,
            egui_wgpu::RendererOptions::default(),
        );
        Ok(Gfx {
            window,
            surface,
            device,
            queue,
            config,
            renderer,
            adapter: adapter.get_info(),
            instance,
            adapter_handle: adapter,
        })
    }

    /// A surface and egui renderer for another window on this device (the output window): the
    /// same GPU draws both, nothing is opened twice.
    pub fn sibling(&self, window: Arc<Window>) -> Result<Gfx, UiError> {
        let surface = self
            .instance
            .create_surface(window.clone())
            .map_err(|e| gpu("creating the output window's surface")(e.to_string()))?;
        if !self.adapter_handle.is_surface_supported(&surface) {
            return Err(UiError::Gpu(format!(
                "{} cannot draw to the output window",
                self.adapter.name
            )));
        }
        let config = configure(&surface, &self.adapter_handle, &self.device, &window)?;
        let renderer = egui_wgpu::Renderer::new(
            &self.device,
            config.format,
            egui_wgpu::RendererOptions::default(),
        );
        Ok(Gfx {
            window,
            surface,
            device: self.device.clone(),
            queue: self.queue.clone(),
            config,
            renderer,
            adapter: self.adapter.clone(),
            instance: self.instance.clone(),
            adapter_handle: self.adapter_handle.clone(),
        })
    }

    pub fn max_texture_side(&self) -> usize {
        self.device.limits().max_texture_dimension_2d as usize
    }

    pub fn resize(&mut self, width: u32, height: u32) {
        if width > 0 && height > 0 {
            self.config.width = width;
            self.config.height = height;
            self.surface.configure(&self.device, &self.config);
        }
    }

    /// Paints one egui frame to the window and, when `capture` is set, also into an offscreen
    /// texture that is read back. Texture deltas are applied and freed here, every frame.
    pub fn paint(
        &mut self,
        ctx: &egui::Context,
        mut output: egui::FullOutput,
        capture: bool,
    ) -> Result<Option<Captured>, UiError> {
        let ppp = output.pixels_per_point;
        let mut textures = std::mem::take(&mut output.textures_delta);
        for (id, deltas) in textures.set.drain() {
            for delta in deltas {
                self.renderer
                    .update_texture(&self.device, &self.queue, id, &delta);
            }
        }
        let jobs = ctx.tessellate(output.shapes, ppp);
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [self.config.width, self.config.height],
            pixels_per_point: ppp,
        };
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("window frame"),
            });
        let mut cmds =
            self.renderer
                .update_buffers(&self.device, &self.queue, &mut enc, &jobs, &screen);
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f) => Some(f),
            wgpu::CurrentSurfaceTexture::Suboptimal(f) => Some(f),
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(&self.device, &self.config);
                None
            }
            // Minimised, occluded or slow: skip this frame (a capture is still served below).
            _ => None,
        };
        if let Some(f) = &frame {
            let view = f
                .texture
                .create_view(&wgpu::TextureViewDescriptor::default());
            self.pass(&mut enc, &view, &jobs, &screen);
        }
        let readback = if capture {
            Some(self.capture_pass(&mut enc, &jobs, &screen))
        } else {
            None
        };
        cmds.push(enc.finish());
        self.queue.submit(cmds);
        if let Some(f) = frame {
            self.window.pre_present_notify();
            self.queue.present(f);
        }
        for id in textures.free.drain() {
            self.renderer.free_texture(&id);
        }
        match readback {
            Some((buf, padded)) => Ok(Some(self.read_back(&buf, padded)?)),
            None => Ok(None),
        }
    }

    fn pass(
        &self,
        enc: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        jobs: &[egui::ClippedPrimitive],
        screen: &egui_wgpu::ScreenDescriptor,
    ) {
        let mut pass = enc
            .begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("egui"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            })
            .forget_lifetime();
        self.renderer.render(&mut pass, jobs, screen);
    }

    /// Paints into an offscreen texture of the window's size and queues its copy into a buffer.
    fn capture_pass(
        &self,
        enc: &mut wgpu::CommandEncoder,
        jobs: &[egui::ClippedPrimitive],
        screen: &egui_wgpu::ScreenDescriptor,
    ) -> (wgpu::Buffer, u32) {
        let (w, h) = (self.config.width, self.config.height);
        let size = wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        };
        let tex = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("capture"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: self.config.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = tex.create_view(&wgpu::TextureViewDescriptor::default());
        self.pass(enc, &view, jobs, screen);
        let padded = (w * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("capture readback"),
            size: padded as u64 * h as u64,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        enc.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &tex,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &buf,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: Some(h),
                },
            },
            size,
        );
        (buf, padded)
    }

    fn read_back(&self, buf: &wgpu::Buffer, padded: u32) -> Result<Captured, UiError> {
        let (w, h) = (self.config.width, self.config.height);
        let slice = buf.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| gpu("waiting for the capture")(e.to_string()))?;
        rx.recv()
            .map_err(|e| gpu("capture readback")(e.to_string()))?
            .map_err(|e| gpu("mapping the capture")(e.to_string()))?;
        let bgra = matches!(
            self.config.format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        );
        let mut rgba = Vec::with_capacity((w * h * 4) as usize);
        {
            let data = slice
                .get_mapped_range()
                .map_err(|e| gpu("reading the capture")(e.to_string()))?;
            for row in data.chunks(padded as usize).take(h as usize) {
                for px in row[..(w * 4) as usize].chunks_exact(4) {
                    if bgra {
                        rgba.extend_from_slice(&[px[2], px[1], px[0], 255]);
                    } else {
                        rgba.extend_from_slice(&[px[0], px[1], px[2], 255]);
                    }
                }
            }
        }
        buf.unmap();
        Ok(Captured {
            width: w,
            height: h,
            rgba,
        })
    }
}
