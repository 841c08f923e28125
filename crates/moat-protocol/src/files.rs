//! `/v1/files`: the file object, upload purposes, the list and delete
//! answers, and the list query. Uploads are multipart forms, so their
//! fields are checked one by one ([`FilePurpose::parse`],
//! [`check_filename`]).

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::page::{check_cursors, check_limit, ListOrder, ListPage};

/// `purpose` of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FilePurpose {
    #[serde(rename = "assistants")]
    Assistants,
    #[serde(rename = "user_data")]
    UserData,
    #[serde(rename = "batch")]
    Batch,
    #[serde(rename = "fine-tune")]
    FineTune,
    #[serde(rename = "vision")]
    Vision,
    #[serde(rename = "evals")]
    Evals,
}

impl FilePurpose {
    /// Every purpose an upload may give.
    pub const ALL: [FilePurpose; 6] = [
        Self::Assistants,
        Self::UserData,
        Self::Batch,
        Self::FineTune,
        Self::Vision,
        Self::Evals,
    ];

    /// The name as sent and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assistants => "assistants",
            Self::UserData => "user_data",
            Self::Batch => "batch",
            Self::FineTune => "fine-tune",
            Self::Vision => "vision",
            Self::Evals => "evals",
        }
    }

    /// The purpose named `text`; any other is refused naming `purpose`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                ApiError::invalid_param(
                    "purpose",
                    format!(
                        "purpose must be one of assistants, user_data, batch, fine-tune, vision, evals; `{}` was given.",
                        shorten(text)
                    ),
                )
            })
    }
}

/// `status` of a file (deprecated by OpenAI, still required by its SDK):
/// a stored file is always `processed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Uploaded,
    #[default]
    Processed,
    Error,
}

/// The file object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileObject {
    /// `file-…`.
    pub id: String,
    /// Always `"file"`.
    pub object: String,
    /// Size of the content in bytes.
    pub bytes: u64,
    /// Unix time in seconds.
    pub created_at: i64,
    pub filename: String,
    pub purpose: FilePurpose,
    pub status: FileStatus,
    /// Unix time in seconds when the file will be deleted, if ever.
    pub expires_at: Option<i64>,
}

impl FileObject {
    /// The object of a stored file; `created_at` in seconds.
    pub fn new(
        id: impl Into<String>,
        bytes: u64,
        created_at: i64,
        filename: impl Into<String>,
        purpose: FilePurpose,
    ) -> Self {
        Self {
            id: id.into(),
            object: "file".to_owned(),
            bytes,
            created_at,
            filename: filename.into(),
            purpose,
            status: FileStatus::Processed,
            expires_at: None,
        }
    }
}

/// `GET /v1/files`.
pub type FileList = ListPage<FileObject>;

/// `DELETE /v1/files/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDeleted {
    pub id: String,
    /// Always `"file"`.
    pub object: String,
    pub deleted: bool,
}

impl FileDeleted {
    /// The answer for file `id`.
    pub fn new(id: impl Into<String>, deleted: bool) -> Self {
        Self {
            id: id.into(),
            object: "file".to_owned(),
            deleted,
        }
    }
}

/// The largest `limit` of a file listing (OpenAI's).
pub const MAX_FILE_LIST_LIMIT: u32 = 10_000;

/// The query string of `GET /v1/files`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileListQuery {
    /// 1 to 10 000; 10 000 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default)]
    pub order: ListOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Only files with this purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<FilePurpose>,
}

impl FileListQuery {
    /// `limit` within 1..=10 000 and a plausible cursor.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_limit(self.limit, MAX_FILE_LIST_LIMIT)?;
        check_cursors(self.after.as_deref(), None)
    }

    /// The page size asked for, or the default.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(MAX_FILE_LIST_LIMIT)
    }
}

/// The longest file name accepted, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;

/// An uploaded file's name: 1 to 255 characters, no control characters
/// (it is shown in listings, citations and logs).
pub fn check_filename(name: &str) -> Result<(), ApiError> {
    let refuse = |why: &str| ApiError::invalid_param("file", format!("The file name {why}."));
    if name.is_empty() {
        return Err(refuse("is empty"));
    }
    if name.chars().count() > MAX_FILENAME_CHARS {
        return Err(refuse("is longer than 255 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(refuse("contains control characters"));
    }
    Ok(())
}

/// At most 64 characters of a refused value, for the error message.
pub(crate) fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(64).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::parse_json;

    #[test]
    fn upload_purposes_are_read_and_others_refused() {
        for purpose in FilePurpose::ALL {
            assert_eq!(FilePurpose::parse(purpose.as_str()).unwrap(), purpose);
            let json = serde_json::to_string(&purpose).unwrap();
            assert_eq!(json, format!("\"{}\"", purpose.as_str()));
        }
        for bad in ["", "Assistants", "assistants_output", "fine_tune", "x"] {
            let e = FilePurpose::parse(bad).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("purpose"), "{bad}");
            assert_eq!(e.status(), 400);
        }
        let e = FilePurpose::parse(&"p".repeat(1000)).unwrap_err();
        assert!(e.message.len() < 300, "{}", e.message);
    }

    #[test]
    fn the_file_object_has_openai_shape() {
        let file = FileObject::new(
            "file-abc",
            120,
            1_700_000_000,
            "report.pdf",
            FilePurpose::Assistants,
        );
        insta::assert_snapshot!(serde_json::to_string(&file).unwrap(), @r#"{"id":"file-abc","object":"file","bytes":120,"created_at":1700000000,"filename":"report.pdf","purpose":"assistants","status":"processed","expires_at":null}"#);
        let list = FileList::new(vec![file.clone()], false, |f| f.id.as_str());
        insta::assert_snapshot!(serde_json::to_string(&list).unwrap(), @r#"{"object":"list","data":[{"id":"file-abc","object":"file","bytes":120,"created_at":1700000000,"filename":"report.pdf","purpose":"assistants","status":"processed","expires_at":null}],"first_id":"file-abc","last_id":"file-abc","has_more":false}"#);
        insta::assert_snapshot!(serde_json::to_string(&FileDeleted::new("file-abc", true)).unwrap(), @r#"{"id":"file-abc","object":"file","deleted":true}"#);
        let back: FileObject =
            serde_json::from_str(&serde_json::to_string(&file).unwrap()).unwrap();
        assert_eq!(back, file);
    }

    #[test]
    fn the_list_query_is_bounded() {
        let q: FileListQuery = parse_json(br#"{"purpose":"user_data","limit":5}"#).unwrap();
        q.validate().unwrap();
        assert_eq!((q.limit(), q.purpose), (5, Some(FilePurpose::UserData)));
        assert_eq!(FileListQuery::default().limit(), 10_000);
        let q = FileListQuery {
            limit: Some(10_001),
            ..Default::default()
        };
        assert_eq!(q.validate().unwrap_err().param.as_deref(), Some("limit"));
        let e = parse_json::<FileListQuery>(br#"{"purpose":"nope"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("purpose"));
    }

    #[test]
    fn file_names_are_checked() {
        check_filename("报告 2024.pdf").unwrap();
        check_filename(&"a".repeat(255)).unwrap();
        for bad in [String::new(), "a".repeat(256), "a\nb".into(), "a\0b".into()] {
            let e = check_filename(&bad).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("file"), "{bad:?}");
        }
    }
}
