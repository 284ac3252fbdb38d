//! Owns how wamig opens the files it reads and writes, so hostile paths cannot turn it against
//! its user: its own files (the journal, its lock, a saved plan) are never reached through a
//! symbolic link, only regular files are read (a FIFO or device would block or never end), every
//! read is bounded, and writes replace a file atomically instead of truncating whatever sits at
//! the path. It knows nothing of what the files hold; callers turn its errors into their own.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Why a file was refused before anything was read from or written to it. Carried inside an
/// `io::Error`, so callers keep their `#[source] io::Error` and pick hints with [`refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("it is a symbolic link, and wamig does not follow links for its own files")]
    Symlink,
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("it is not valid UTF-8 text")]
    NotUtf8,
}

impl Refusal {
    fn into_io(self) -> io::Error {
        let kind = match self {
            Refusal::TooLarge { .. } | Refusal::NotUtf8 => io::ErrorKind::InvalidData,
            Refusal::Symlink | Refusal::NotRegular(_) => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, self)
    }
}

/// The refusal inside an error from this module, if it is one.
pub fn refusal(error: &io::Error) -> Option<Refusal> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<Refusal>()).copied()
}

/// Whether a path may be a symbolic link that is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// wamig's own files: a link there was planted, not chosen.
    Refuse,
    /// Files the user names for input (a token or code file): a link is theirs to make.
    Follow,
}

/// What kind of non-regular file a path is, in words.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        return "a directory";
    }
    if file_type.is_symlink() {
        return "a symbolic link";
    }
    "not a regular file"
}

/// Options that never block on a FIFO and, for [`Links::Refuse`], fail on a symbolic link
/// instead of following it (the check and the open are one system call, so nothing can swap
/// the link in between).
fn options(links: Links) -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if links == Links::Refuse { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | nofollow | libc::O_CLOEXEC);
    }
    options
}

/// Turns the error of an open into a [`Refusal`] when it came from a link or a directory.
fn open_error(error: io::Error, links: Links) -> io::Error {
    #[cfg(unix)]
    if links == Links::Refuse && error.raw_os_error() == Some(libc::ELOOP) {
        return Refusal::Symlink.into_io();
    }
    if error.kind() == io::ErrorKind::IsADirectory {
        return Refusal::NotRegular("a directory").into_io();
    }
    error
}

/// Refuses anything but a regular file, from the open handle (not the path, which may change).
fn check_regular(file: &File) -> io::Result<()> {
    let file_type = file.metadata()?.file_type();
    if file_type.is_file() { Ok(()) } else { Err(Refusal::NotRegular(kind_of(file_type)).into_io()) }
}

/// Refuses a symbolic link where [`Links::Refuse`] applies, on platforms without `O_NOFOLLOW`.
fn check_not_link(path: &Path, links: Links) -> io::Result<()> {
    if cfg!(not(unix)) && links == Links::Refuse && std::fs::symlink_metadata(path)?.file_type().is_symlink()
    {
        return Err(Refusal::Symlink.into_io());
    }
    Ok(())
}

/// Opens a regular file for reading.
pub fn open_read(path: &Path, links: Links) -> io::Result<File> {
    if let Err(error) = check_not_link(path, links)
        && error.kind() != io::ErrorKind::NotFound
    {
        return Err(error);
    }
    let file = options(links).read(true).open(path).map_err(|e| open_error(e, links))?;
    check_regular(&file)?;
    Ok(file)
}

/// Reads a whole regular file of at most `limit` bytes: a larger one is refused rather than
/// buffered, whatever it is.
pub fn read_bounded(path: &Path, limit: u64, links: Links) -> io::Result<Vec<u8>> {
    let file = open_read(path, links)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(Refusal::TooLarge { limit }.into_io());
    }
    Ok(bytes)
}

/// [`read_bounded`] for text.
pub fn read_text_bounded(path: &Path, limit: u64, links: Links) -> io::Result<String> {
    String::from_utf8(read_bounded(path, limit, links)?).map_err(|_| Refusal::NotUtf8.into_io())
}

/// Opens (creating if needed) a file wamig keeps open for reading and writing, such as a lock:
/// never through a link, never a FIFO or device, never truncated here.
pub fn open_own(path: &Path) -> io::Result<File> {
    if let Err(error) = check_not_link(path, Links::Refuse)
        && error.kind() != io::ErrorKind::NotFound
    {
        return Err(error);
    }
    let mut options = options(Links::Refuse);
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(|e| open_error(e, Links::Refuse))?;
    check_regular(&file)?;
    Ok(file)
}

/// The directory a file lives in, `.` for a bare name.
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically: a new file in the same directory, synced, then renamed
/// over the path. A crash leaves the old file or the new one, never half of one; a symbolic link
/// or a non-regular file at the path is refused, never written through. `private` makes the
/// file mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => return Err(Refusal::Symlink.into_io()),
        Ok(metadata) if !metadata.is_file() => {
            return Err(Refusal::NotRegular(kind_of(metadata.file_type())).into_io());
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let dir = parent_dir(path);
    std::fs::create_dir_all(&dir)?;
    let mut file = tempfile::Builder::new().prefix(".wamig-").suffix(".tmp").tempfile_in(&dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if private { 0o600 } else { 0o644 };
        file.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether two paths name the same existing file (through links, `..` or hard links).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_reads_refuse_what_is_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "123456\n").unwrap();
        assert_eq!(read_bounded(&path, 7, Links::Refuse).unwrap(), b"123456\n");
        let error = read_bounded(&path, 6, Links::Refuse).unwrap_err();
        assert_eq!(refusal(&error), Some(Refusal::TooLarge { limit: 6 }));
    }

    #[cfg(unix)]
    #[test]
    fn links_are_refused_for_own_files_and_followed_for_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = read_bounded(&link, 100, Links::Refuse).unwrap_err();
        assert_eq!(refusal(&error), Some(Refusal::Symlink));
        assert_eq!(read_bounded(&link, 100, Links::Follow).unwrap(), b"keep me");
        let error = open_own(&link).unwrap_err();
        assert_eq!(refusal(&error), Some(Refusal::Symlink));
        let error = write_atomic(&link, b"x", true).unwrap_err();
        assert_eq!(refusal(&error), Some(Refusal::Symlink));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        // A dangling link is refused too, not taken for a missing file.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert_eq!(refusal(&read_bounded(&dangling, 1, Links::Refuse).unwrap_err()), Some(Refusal::Symlink));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_devices_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        // No writer ever opens the FIFO: a blocking open would hang this test.
        let error = read_bounded(&fifo, 10, Links::Follow).unwrap_err();
        assert_eq!(refusal(&error), Some(Refusal::NotRegular("a FIFO")));
        let error = read_bounded(Path::new("/dev/zero"), 10, Links::Follow).unwrap_err();
        assert_eq!(refusal(&error), Some(Refusal::NotRegular("a device")));
        let error = read_bounded(dir.path(), 10, Links::Follow).unwrap_err();
        assert_eq!(refusal(&error), Some(Refusal::NotRegular("a directory")));
        assert_eq!(refusal(&open_own(&fifo).unwrap_err()), Some(Refusal::NotRegular("a FIFO")));
    }

    #[test]
    fn atomic_writes_replace_and_keep_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.json");
        write_atomic(&path, b"one", true).unwrap();
        write_atomic(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary left");
        assert!(same_file(&path, &dir.path().join("sub/../sub/out.json")));
        assert!(!same_file(&path, &dir.path().join("missing")));
    }
}
