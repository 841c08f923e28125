//! What the Office readers share: a streaming XML reader over an archive
//! entry (quick-xml, no DOM, so a large part costs a buffer, not a tree),
//! attribute and entity helpers, and the title in `docProps/core.xml`.

use std::io::{BufReader, Read};

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::archive::{Archive, EntryError};
use super::ExtractError;

/// A lenient reader over one entry: end tags are not checked against their
/// start tags (damaged files are read as far as they make sense).
pub(crate) fn reader(entry: &mut dyn Read) -> Reader<BufReader<&mut dyn Read>> {
    let mut reader = Reader::from_reader(BufReader::new(entry));
    reader.config_mut().check_end_names = false;
    reader
}

/// The value of the attribute whose local name is `local` (`w:val` is
/// `val`), entities resolved.
pub(crate) fn attribute(element: &BytesStart<'_>, local: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.local_name().as_ref() == local)
        .map(
            |attribute| match quick_xml::escape::unescape(&attribute.value) {
                Ok(value) => value.into_owned(),
                Err(_) => attribute.value.into_owned(),
            },
        )
}

/// Appends what an entity reference (`&amp;`, `&#x4E2D;`) stands for;
/// an unknown one is dropped.
pub(crate) fn push_reference(out: &mut String, reference: &BytesRef<'_>) {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        out.push(c);
    } else if let Some(text) = quick_xml::escape::resolve_predefined_entity(reference) {
        out.push_str(text);
    }
}

/// `dc:title` from `docProps/core.xml`, where there is one.
pub(crate) fn core_title(archive: &mut Archive<'_>) -> Result<Option<String>, ExtractError> {
    let title = archive.with_entry("docProps/core.xml", |entry| {
        let mut reader = reader(entry);
        let mut buffer = Vec::new();
        let mut in_title = false;
        let mut title = String::new();
        loop {
            match reader.read_event_into(&mut buffer)? {
                Event::Start(element) if element.local_name().as_ref() == "title" => {
                    in_title = true;
                }
                Event::End(element) if element.local_name().as_ref() == "title" => break,
                Event::Text(text) if in_title => title.push_str(&text.xml10_content()),
                Event::GeneralRef(reference) if in_title => push_reference(&mut title, &reference),
                Event::Eof => break,
                _ => {}
            }
            buffer.clear();
        }
        Ok::<_, EntryError>(title)
    });
    // A damaged core part costs the title, not the document.
    Ok(title
        .ok()
        .flatten()
        .filter(|title| !title.trim().is_empty()))
}
