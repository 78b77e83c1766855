//! Why a model folder could not be loaded, as data: the file, and what in it
//! (a field of config.json, a tensor, the format). Messages name the file,
//! field or tensor; callers that need more than the message match on the
//! variant.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file of the folder could not be read; `hint` says what was expected.
    #[error("{}: {source}{hint}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        hint: String,
    },
    /// A file's content is not what its format says, or asks for something
    /// this code does not run (`detail` says which).
    #[error("{}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
    /// A field of a config file has a value that cannot work.
    #[error("{}: {key} = {value}: {reason}", path.display())]
    Field {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    /// What a tokenizer or model description holds is unusable, where no
    /// file is at hand (the caller adds it): a vocabulary without a pad
    /// token, a SentencePiece model of another kind.
    #[error("{0}")]
    Content(String),
    /// `weights:` names no folder and no hub id in the cache.
    #[error("{0}")]
    NotFound(String),
    /// A tensor the architecture needs is not in the checkpoint.
    #[error("tensor {name} is missing from the checkpoint ({files})")]
    MissingTensor { name: String, files: String },
    /// A tensor has another shape, dtype or non-finite values.
    #[error("tensor {name} {detail}")]
    Tensor { name: String, detail: String },
}

impl ModelError {
    /// [`ModelError::File`].
    pub fn file(path: &Path, detail: impl std::fmt::Display) -> Self {
        ModelError::File {
            path: path.to_path_buf(),
            detail: detail.to_string(),
        }
    }

    /// [`ModelError::Read`] without a hint.
    pub fn read(path: &Path, source: std::io::Error) -> Self {
        ModelError::Read {
            path: path.to_path_buf(),
            source,
            hint: String::new(),
        }
    }

    /// [`ModelError::Field`].
    pub fn field(path: &Path, key: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        ModelError::Field {
            path: path.to_path_buf(),
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// [`ModelError::Content`].
    pub fn content(detail: impl std::fmt::Display) -> Self {
        ModelError::Content(detail.to_string())
    }

    /// [`ModelError::Tensor`].
    pub fn tensor(name: &str, detail: impl std::fmt::Display) -> Self {
        ModelError::Tensor {
            name: name.into(),
            detail: detail.to_string(),
        }
    }
}
