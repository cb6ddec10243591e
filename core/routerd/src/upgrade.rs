//! Image upgrade bundles: what `appliance-image/build.sh` makes next to the disk image
//! (`dialgate-<arch>.upgrade`) and what `POST /v1/system/upgrade` accepts.
//!
//! A bundle is a POSIX ustar archive (IEEE Std 1003.1-2017, `pax` "ustar Interchange Format")
//! of regular files only: first a [`MANIFEST`], then the release's root file system
//! (`root.sqfs`), kernel (`vmlinuz`) and initramfs (`initrd.img`) in any order. The manifest
//! is text, one item per line:
//!
//! ```text
//! dialgate-upgrade 1
//! arch x86_64
//! version 79522e6
//! file root.sqfs 10170368 <sha256 hex>
//! file vmlinuz 7995392 <sha256 hex>
//! file initrd.img 2711552 <sha256 hex>
//! ```
//!
//! [`unpack`] reads a bundle from any [`Read`], refuses anything else (other member names or
//! types, a size or digest that differs from the manifest, a missing file, an architecture
//! other than the box's, more than [`MAX_BUNDLE`] bytes) and writes the files into a
//! directory, where the appliance's installer (`dg-upgrade` in the image) finds them. The
//! installer writes them to the inactive root slot; routerd itself never touches a disk.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// The name of the manifest member, the first in the archive.
pub const MANIFEST: &str = "manifest";

/// The files a bundle carries besides the manifest, each exactly once.
pub const FILES: [&str; 3] = ["root.sqfs", "vmlinuz", "initrd.img"];

/// The largest bundle accepted: a 256 MiB root slot plus a kernel and initramfs that fit the
/// 64 MiB ESP.
pub const MAX_BUNDLE: u64 = 320 * 1024 * 1024;

/// The largest manifest accepted.
pub const MAX_MANIFEST: u64 = 4096;

/// The longest version string accepted.
pub const MAX_VERSION_LEN: usize = 64;

/// The first line of a manifest: the format and its version.
pub const FORMAT_LINE: &str = "dialgate-upgrade 1";

/// The ustar block size.
const BLOCK: usize = 512;

/// One file of a bundle, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// One of [`FILES`].
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 digest.
    pub sha256: [u8; 32],
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The architecture the release is built for (`x86_64`, `aarch64`).
    pub arch: String,
    /// The release's version (`git describe` of its build).
    pub version: String,
    /// Every file of [`FILES`], in the manifest's order.
    pub files: Vec<FileEntry>,
}

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The archive or the manifest is malformed.
    #[error("not a valid upgrade bundle: {0}")]
    Format(String),
    /// A file's size or digest differs from the manifest's.
    #[error("{name}: {what} does not match the manifest")]
    Mismatch {
        /// The file.
        name: String,
        /// `size` or `SHA-256 digest`.
        what: &'static str,
    },
    /// The release is for another architecture.
    #[error("the bundle is for {bundle}, this system is {system}")]
    WrongArch {
        /// The bundle's.
        bundle: String,
        /// This system's.
        system: String,
    },
    /// More than [`MAX_BUNDLE`] bytes.
    #[error("the bundle is larger than {MAX_BUNDLE} bytes")]
    TooLarge,
    /// Reading the bundle or writing a file failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn format_err(message: impl Into<String>) -> BundleError {
    BundleError::Format(message.into())
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(text: &str) -> Result<Manifest, BundleError> {
        let mut lines = text.lines();
        if lines.next() != Some(FORMAT_LINE) {
            return Err(format_err(format!(
                "the manifest does not start with {FORMAT_LINE:?}"
            )));
        }
        let mut arch = None;
        let mut version = None;
        let mut files: Vec<FileEntry> = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "arch" if arch.is_none() => {
                    if !matches!(rest, "x86_64" | "aarch64") {
                        return Err(format_err(format!(
                            "unknown architecture {:?}",
                            short(rest)
                        )));
                    }
                    arch = Some(rest.to_owned());
                }
                "version" if version.is_none() => {
                    if rest.is_empty()
                        || rest.len() > MAX_VERSION_LEN
                        || !rest.bytes().all(|b| b.is_ascii_graphic())
                    {
                        return Err(format_err(format!(
                            "the version must be 1 to {MAX_VERSION_LEN} printable characters"
                        )));
                    }
                    version = Some(rest.to_owned());
                }
                "file" => {
                    let entry = parse_file_line(rest)?;
                    if files.iter().any(|f| f.name == entry.name) {
                        return Err(format_err(format!("{} is listed twice", entry.name)));
                    }
                    files.push(entry);
                }
                _ => {
                    return Err(format_err(format!(
                        "unexpected manifest line {:?}",
                        short(line)
                    )));
                }
            }
        }
        for name in FILES {
            if !files.iter().any(|f| f.name == name) {
                return Err(format_err(format!("the manifest does not list {name}")));
            }
        }
        Ok(Manifest {
            arch: arch.ok_or_else(|| format_err("the manifest has no arch"))?,
            version: version.ok_or_else(|| format_err("the manifest has no version"))?,
            files,
        })
    }

    /// The entry of file `name`.
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }

    /// The manifest's text (what [`Manifest::parse`] reads).
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{FORMAT_LINE}\narch {}\nversion {}\n",
            self.arch, self.version
        );
        for f in &self.files {
            out.push_str(&format!("file {} {} {}\n", f.name, f.size, hex(&f.sha256)));
        }
        out
    }
}

fn parse_file_line(rest: &str) -> Result<FileEntry, BundleError> {
    let mut parts = rest.split(' ');
    let (Some(name), Some(size), Some(digest), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format_err(format!(
            "a file line is \"file NAME SIZE SHA256\", got {:?}",
            short(rest)
        )));
    };
    if !FILES.contains(&name) {
        return Err(format_err(format!("unknown file {:?}", short(name))));
    }
    let size: u64 = size
        .parse()
        .ok()
        .filter(|s| *s <= MAX_BUNDLE)
        .ok_or_else(|| format_err(format!("{name}: bad size {:?}", short(size))))?;
    let sha256 = unhex(digest)
        .ok_or_else(|| format_err(format!("{name}: the digest is not 64 hex digits")))?;
    Ok(FileEntry {
        name: name.to_owned(),
        size,
        sha256,
    })
}

/// At most 64 characters of untrusted input, for messages.
fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let pair = s.get(2 * i..2 * i + 2)?;
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// One ustar header block, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The member's name (no prefix, no directories).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Header field offsets (POSIX ustar).
mod field {
    use core::ops::Range;
    pub const NAME: Range<usize> = 0..100;
    pub const SIZE: Range<usize> = 124..136;
    pub const CHKSUM: Range<usize> = 148..156;
    pub const TYPEFLAG: usize = 156;
    pub const MAGIC: Range<usize> = 257..263;
    pub const PREFIX: Range<usize> = 345..500;
}

/// Parses one 512-byte header block: `Ok(None)` for an all-zero block (the end of the
/// archive). Only regular files with a plain name (no prefix, no `/`) are accepted.
pub fn parse_header(block: &[u8; BLOCK]) -> Result<Option<Header>, BundleError> {
    if block.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    let magic = &block[field::MAGIC];
    if magic != b"ustar\0" && magic != b"ustar " {
        return Err(format_err("a member header is not ustar"));
    }
    let stored = octal(&block[field::CHKSUM])
        .ok_or_else(|| format_err("a member header has a bad checksum field"))?;
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if field::CHKSUM.contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if sum != stored {
        return Err(format_err("a member header's checksum is wrong"));
    }
    if !matches!(block[field::TYPEFLAG], b'0' | 0) {
        return Err(format_err("the bundle may hold regular files only"));
    }
    if block[field::PREFIX].iter().any(|b| *b != 0) {
        return Err(format_err("member names may not have a prefix"));
    }
    let raw = &block[field::NAME];
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    let name = std::str::from_utf8(&raw[..end])
        .ok()
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| format_err("a member name is not a plain file name"))?;
    let size = octal(&block[field::SIZE])
        .ok_or_else(|| format_err(format!("{}: bad size field", short(name))))?;
    Ok(Some(Header {
        name: name.to_owned(),
        size,
    }))
}

/// An octal number field: optional leading spaces, digits, then NUL or space padding.
fn octal(raw: &[u8]) -> Option<u64> {
    let text = raw
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| **b != 0 && **b != b' ');
    let mut value: u64 = 0;
    let mut digits = 0;
    for b in text {
        if !(b'0'..=b'7').contains(b) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
        digits += 1;
    }
    (digits > 0).then_some(value)
}

/// A reader that fails once more than `left` bytes were asked of it.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Capped<R> {
    fn block(&mut self, buf: &mut [u8; BLOCK]) -> Result<(), BundleError> {
        self.exact(buf)
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), BundleError> {
        let n = buf.len() as u64;
        if n > self.left {
            return Err(BundleError::TooLarge);
        }
        self.left -= n;
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                format_err("the archive ends in the middle of a member")
            } else {
                BundleError::Io(e)
            }
        })
    }

    /// Copies `size` bytes (then the padding to a block) into `out`, returning their digest.
    fn copy(&mut self, size: u64, out: &mut impl Write) -> Result<[u8; 32], BundleError> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            let chunk = &mut buf[..n];
            self.exact(chunk)?;
            hasher.update(&*chunk);
            out.write_all(chunk)?;
            left -= n as u64;
        }
        let pad = padding(size);
        self.exact(&mut buf[..pad])?;
        Ok(hasher.finalize().into())
    }
}

fn padding(size: u64) -> usize {
    let rem = usize::try_from(size % BLOCK as u64).unwrap_or(0);
    if rem == 0 { 0 } else { BLOCK - rem }
}

/// Reads a bundle from `input` (at most [`MAX_BUNDLE`] bytes are read), checks it against its
/// manifest and against `arch` (this system's architecture, e.g. [`std::env::consts::ARCH`]),
/// and writes the manifest and [`FILES`] into `dir` (which must exist; files there of the same
/// names are replaced). On error the caller should discard `dir`.
pub fn unpack(input: impl Read, dir: &Path, arch: &str) -> Result<Manifest, BundleError> {
    let mut r = Capped {
        inner: input,
        left: MAX_BUNDLE,
    };
    let mut block = [0u8; BLOCK];
    r.block(&mut block)?;
    let first = parse_header(&block)?.ok_or_else(|| format_err("the archive is empty"))?;
    if first.name != MANIFEST {
        return Err(format_err(format!(
            "the first member must be {MANIFEST}, not {:?}",
            short(&first.name)
        )));
    }
    if first.size > MAX_MANIFEST {
        return Err(format_err("the manifest is too large"));
    }
    let mut text = Vec::new();
    r.copy(first.size, &mut text)?;
    let text = String::from_utf8(text).map_err(|_| format_err("the manifest is not UTF-8"))?;
    let manifest = Manifest::parse(&text)?;
    if manifest.arch != arch {
        return Err(BundleError::WrongArch {
            bundle: manifest.arch,
            system: arch.to_owned(),
        });
    }
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    loop {
        r.block(&mut block)?;
        let Some(header) = parse_header(&block)? else {
            break;
        };
        let entry = manifest
            .file(&header.name)
            .ok_or_else(|| format_err(format!("unexpected member {:?}", short(&header.name))))?;
        if seen.insert(header.name.clone(), ()).is_some() {
            return Err(format_err(format!("{} appears twice", header.name)));
        }
        if header.size != entry.size {
            return Err(BundleError::Mismatch {
                name: header.name,
                what: "size",
            });
        }
        let mut out = File::create(dir.join(&entry.name))?;
        let digest = r.copy(header.size, &mut out)?;
        out.sync_all()?;
        if digest != entry.sha256 {
            return Err(BundleError::Mismatch {
                name: header.name,
                what: "SHA-256 digest",
            });
        }
    }
    if let Some(missing) = FILES.iter().find(|f| !seen.contains_key(**f)) {
        return Err(format_err(format!("the archive has no {missing}")));
    }
    std::fs::write(dir.join(MANIFEST), manifest.to_text())?;
    Ok(manifest)
}

impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dialgate {} ({})", self.version, self.arch)
    }
}

/// Writes a ustar member (header, data, padding) for `name` holding `data`: what `tar
/// --format=ustar` writes, for tests and tools.
pub fn ustar_member(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; BLOCK];
    let n = name.len().min(99);
    h[..n].copy_from_slice(&name.as_bytes()[..n]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[field::SIZE].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[field::TYPEFLAG] = b'0';
    h[field::MAGIC].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[field::CHKSUM].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[field::CHKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len() + padding(data.len() as u64), 0);
    out
}

/// A whole bundle of `files` (name, contents) for `arch` and `version`, manifest first, with
/// the end-of-archive blocks: for tests and tools.
pub fn build_bundle(arch: &str, version: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let manifest = Manifest {
        arch: arch.to_owned(),
        version: version.to_owned(),
        files: files
            .iter()
            .map(|(name, data)| FileEntry {
                name: (*name).to_owned(),
                size: data.len() as u64,
                sha256: Sha256::digest(data).into(),
            })
            .collect(),
    };
    let mut out = ustar_member(MANIFEST, manifest.to_text().as_bytes());
    for (name, data) in files {
        out.extend(ustar_member(name, data));
    }
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("root.sqfs", vec![7u8; 1500]),
            ("vmlinuz", b"kernel".to_vec()),
            ("initrd.img", vec![1u8; 512]),
        ]
    }

    fn bundle(arch: &str) -> Vec<u8> {
        let f = files();
        let refs: Vec<(&str, &[u8])> = f.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        build_bundle(arch, "v1.2-3-gabc", &refs)
    }

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("dg-upgrade-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_default();
        d
    }

    #[test]
    fn bundle_unpacks_posix_ustar() {
        let dir = tempdir("ok");
        let m = unpack(bundle("x86_64").as_slice(), &dir, "x86_64").expect("valid bundle");
        assert_eq!(m.version, "v1.2-3-gabc");
        for (name, data) in files() {
            assert_eq!(std::fs::read(dir.join(name)).unwrap_or_default(), data);
        }
        let text = std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
        assert_eq!(Manifest::parse(&text).ok(), Some(m));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn wrong_arch_is_refused() {
        let dir = tempdir("arch");
        let e = unpack(bundle("aarch64").as_slice(), &dir, "x86_64").expect_err("arch");
        assert!(matches!(e, BundleError::WrongArch { .. }), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupted_file_is_refused_by_digest() {
        let dir = tempdir("digest");
        let mut b = bundle("x86_64");
        // The root.sqfs data starts after the manifest member and root.sqfs's header.
        let manifest_len = 512 + 512;
        let at = manifest_len + 512 + 10;
        b[at] ^= 0xff;
        let e = unpack(b.as_slice(), &dir, "x86_64").expect_err("digest");
        assert!(
            matches!(
                e,
                BundleError::Mismatch {
                    what: "SHA-256 digest",
                    ..
                }
            ),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn truncated_and_missing_members_are_refused() {
        let dir = tempdir("trunc");
        let b = bundle("x86_64");
        for cut in [0, 100, 512, 1024, 1600, b.len() - 1024 - 600] {
            assert!(unpack(&b[..cut], &dir, "x86_64").is_err(), "cut at {cut}");
        }
        // Without initrd.img: manifest + root.sqfs + vmlinuz + end.
        let f = files();
        let manifest = Manifest {
            arch: "x86_64".into(),
            version: "v".into(),
            files: f
                .iter()
                .map(|(name, data)| FileEntry {
                    name: (*name).into(),
                    size: data.len() as u64,
                    sha256: Sha256::digest(data).into(),
                })
                .collect(),
        };
        let mut short = ustar_member(MANIFEST, manifest.to_text().as_bytes());
        short.extend(ustar_member("root.sqfs", &f[0].1));
        short.extend(ustar_member("vmlinuz", &f[1].1));
        short.extend_from_slice(&[0u8; 1024]);
        let e = unpack(short.as_slice(), &dir, "x86_64").expect_err("missing");
        assert!(e.to_string().contains("initrd.img"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_headers_are_refused() {
        let mut m = ustar_member("root.sqfs", b"x");
        m[0] = b'R'; // checksum no longer matches
        let block: [u8; 512] = m[..512].try_into().unwrap_or([0; 512]);
        assert!(parse_header(&block).is_err());
        let mut d = ustar_member("dir", b"");
        d[156] = b'5';
        let block: [u8; 512] = d[..512].try_into().unwrap_or([0; 512]);
        assert!(parse_header(&block).is_err(), "a directory");
        assert_eq!(parse_header(&[0u8; 512]).ok(), Some(None));
        let good: [u8; 512] = ustar_member("vmlinuz", b"abc")[..512]
            .try_into()
            .unwrap_or([0; 512]);
        assert_eq!(
            parse_header(&good).ok().flatten(),
            Some(Header {
                name: "vmlinuz".into(),
                size: 3
            })
        );
    }

    /// Archives written by other tar implementations read the same: Python's `tarfile`
    /// (the fuzz seed) and GNU tar `--format=ustar` (what build.sh runs), when installed.
    #[test]
    fn other_ustar_writers_unpack() {
        let dir = tempdir("python");
        let seed = include_bytes!("../../../tests/fuzz/corpus/upgrade_bundle/valid");
        let m = unpack(seed.as_slice(), &dir, "x86_64").expect("Python's ustar");
        assert_eq!(m.version, "seed-1");
        let _ = std::fs::remove_dir_all(&dir);

        let src = tempdir("gnu-src");
        let f = files();
        let refs: Vec<(&str, &[u8])> = f.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        let whole = build_bundle("x86_64", "gnu-1", &refs);
        let mut manifest_dir = tempdir("gnu-manifest");
        let m = unpack(whole.as_slice(), &manifest_dir, "x86_64").expect("ours");
        std::fs::write(src.join(MANIFEST), m.to_text()).unwrap_or_default();
        for (name, data) in &f {
            std::fs::write(src.join(name), data).unwrap_or_default();
        }
        let out = src.join("bundle.tar");
        let status = std::process::Command::new("tar")
            .args(["--format=ustar", "--owner=0", "--group=0", "-C"])
            .arg(&src)
            .arg("-cf")
            .arg(&out)
            .args([MANIFEST, "root.sqfs", "vmlinuz", "initrd.img"])
            .status();
        if let Ok(s) = status
            && s.success()
        {
            let _ = std::fs::remove_dir_all(&manifest_dir);
            manifest_dir = tempdir("gnu-out");
            let data = std::fs::read(&out).unwrap_or_default();
            let m = unpack(data.as_slice(), &manifest_dir, "x86_64").expect("GNU tar's ustar");
            assert_eq!(m.version, "gnu-1");
        }
        let _ = std::fs::remove_dir_all(&src);
        let _ = std::fs::remove_dir_all(&manifest_dir);
    }

    #[test]
    fn manifest_checks() {
        let ok = format!(
            "{FORMAT_LINE}\narch x86_64\nversion 1\nfile root.sqfs 1 {z}\nfile vmlinuz 1 {z}\nfile initrd.img 1 {z}\n",
            z = "0".repeat(64)
        );
        assert!(Manifest::parse(&ok).is_ok());
        for bad in [
            ok.replace(FORMAT_LINE, "dialgate-upgrade 2"),
            ok.replace("arch x86_64", "arch mips"),
            ok.replace("version 1", "version a b"),
            ok.replace("file vmlinuz", "file ../vmlinuz"),
            ok.replace("file initrd.img 1", "file root.sqfs 1"),
            ok.replace("initrd.img 1 0", "initrd.img x 0"),
            ok.replace("\nfile initrd.img", "\nextra\nfile initrd.img"),
        ] {
            assert!(Manifest::parse(&bad).is_err(), "{bad}");
        }
    }
}
