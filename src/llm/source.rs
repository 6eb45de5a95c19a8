//! Where a model file comes from: a local path (the default: `models/` filled by
//! the fetch step), or `hf:OWNER/REPO/FILE` for online users, resolved through
//! hf-hub: the local hub cache first (no network), then a download.

use crate::ports::ModelError;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    Local(PathBuf),
    Hub { repo: String, file: String },
}

impl ModelSource {
    /// `hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf`, or a path.
    pub fn parse(spec: &str) -> Result<Self, ModelError> {
        let Some(rest) = spec.strip_prefix("hf:") else {
            return Ok(ModelSource::Local(PathBuf::from(spec)));
        };
        let mut parts = rest.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(owner), Some(name), Some(file))
                if !owner.is_empty() && !name.is_empty() && !file.is_empty() =>
            {
                Ok(ModelSource::Hub {
                    repo: format!("{owner}/{name}"),
                    file: file.to_owned(),
                })
            }
            _ => Err(ModelError::Load(format!(
                "`{spec}`: expected hf:OWNER/REPO/FILE"
            ))),
        }
    }

    /// The file on disk: local paths must exist; hub files come from the cache in
    /// `HF_HOME` (or ~/.cache/huggingface) or are downloaded into it.
    pub fn resolve(&self) -> Result<PathBuf, ModelError> {
        self.resolve_with(&hf_hub::Cache::from_env())
    }

    pub fn resolve_with(&self, cache: &hf_hub::Cache) -> Result<PathBuf, ModelError> {
        match self {
            ModelSource::Local(path) => existing(path),
            ModelSource::Hub { repo, file } => {
                if let Some(path) = cache.model(repo.clone()).get(file) {
                    return Ok(path);
                }
                let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone())
                    .with_progress(false)
                    .build()
                    .map_err(|e| ModelError::Unavailable(format!("hf-hub: {e}")))?;
                api.model(repo.clone())
                    .get(file)
                    .map_err(|e| ModelError::Unavailable(format!("hf:{repo}/{file}: {e}")))
            }
        }
    }
}

fn existing(path: &Path) -> Result<PathBuf, ModelError> {
    if path.is_file() {
        Ok(path.to_owned())
    } else {
        Err(ModelError::Load(format!(
            "{} does not exist: run `xiaoer models fetch` or point at another file",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_specs_name_a_repo_and_a_file() {
        assert_eq!(
            ModelSource::parse("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/sub/q4.gguf").unwrap(),
            ModelSource::Hub {
                repo: "Qwen/Qwen2.5-1.5B-Instruct-GGUF".into(),
                file: "sub/q4.gguf".into()
            }
        );
        assert!(ModelSource::parse("hf:only-a-repo").is_err());
        assert_eq!(
            ModelSource::parse("models/x.gguf").unwrap(),
            ModelSource::Local("models/x.gguf".into())
        );
    }

    #[test]
    fn a_hub_file_already_in_the_local_cache_resolves_without_network() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("models--acme--tiny-gguf");
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc123").unwrap();
        std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
        std::fs::write(repo.join("snapshots/abc123/model.gguf"), b"GGUF").unwrap();
        let cache = hf_hub::Cache::new(dir.path().to_owned());
        let path = ModelSource::parse("hf:acme/tiny-gguf/model.gguf")
            .unwrap()
            .resolve_with(&cache)
            .unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b"GGUF");
    }

    #[test]
    fn a_missing_local_file_says_how_to_get_it() {
        let err = ModelSource::parse("/nonexistent/model.gguf")
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("models fetch"), "{err}");
    }
}
