//! Atomic saving (DESIGN §5): a crash at any moment leaves either the old file or the new one,
//! never half of one, and the previous version as `NAME.bak`.
//!
//! Each file (the backup too) is written to a temp file in the same folder, synced, and renamed
//! over its name; then the folder is synced so the renames themselves survive a power cut. A
//! symlinked patch stays a symlink: the file it points to is the one replaced (the link is
//! followed, the backup sits beside the target). The file's permissions are kept.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Links followed at most (as the OS does, to stop on loops).
const MAX_LINKS: usize = 40;

/// Writes `bytes` to `path` atomically, keeping the previous version as `path.bak`.
pub fn save_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = follow_links(path)?;
    let dir = parent(&target);
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{}: the path has no file name", path.display())))?
        .to_string_lossy()
        .to_string();
    let old = match fs::read(&target) {
        Ok(b) => Some((b, fs::metadata(&target)?.permissions())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let perms = old.as_ref().map(|(_, p)| p.clone());
    if let Some((previous, p)) = &old {
        let bak = dir.join(format!("{name}.bak"));
        replace(
            &dir.join(format!(".{name}.bak.tmp")),
            &bak,
            previous,
            Some(p),
        )?;
    }
    replace(
        &dir.join(format!(".{name}.tmp")),
        &target,
        bytes,
        perms.as_ref(),
    )?;
    sync_dir(&dir)
}

/// Writes `bytes` to `tmp`, syncs it, gives it `perms`, and renames it to `dest`. The temp file
/// is removed if anything fails.
fn replace(tmp: &Path, dest: &Path, bytes: &[u8], perms: Option<&Permissions>) -> io::Result<()> {
    let result = (|| {
        let mut f = File::create(tmp)?;
        f.write_all(bytes)?;
        if let Some(p) = perms {
            f.set_permissions(p.clone())?;
        }
        f.sync_all()?;
        drop(f);
        fs::rename(tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// The file `path` names once symlinks are followed (itself when it is not a link, or does not
/// exist yet).
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = if link.is_absolute() {
                    link
                } else {
                    parent(&p).join(link)
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} symbolic links (a loop?)",
        path.display()
    )))
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes the folder's entries (our renames) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
