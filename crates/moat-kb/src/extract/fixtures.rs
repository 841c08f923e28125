//! Test documents built in code: Office archives written with the zip
//! crate, PDFs with lopdf, and hand-made ZIPs for bombs (a deflate stream
//! of zeros written bit by bit, so that a gigabyte of zeros costs a few
//! megabytes and no gigabyte to make).

#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Write};

use lopdf::{dictionary, Document, Object, Stream};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// A ZIP of `entries`, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

const XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

fn core(title: &str) -> String {
    format!(
        r#"{XML}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title><dc:creator>someone</dc:creator></cp:coreProperties>"#
    )
}

/// A Word document whose `w:body` holds `body`, with `styles` as its
/// `w:styles` content and `title` in its core properties.
pub fn docx(body: &str, styles: Option<&str>, title: Option<&str>) -> Vec<u8> {
    let w = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;
    let document = format!(
        r#"{XML}<w:document {w} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        ("[Content_Types].xml".into(), content_types().into_bytes()),
        ("word/document.xml".into(), document.into_bytes()),
    ];
    if let Some(styles) = styles {
        let styles = format!(r#"{XML}<w:styles {w}>{styles}</w:styles>"#);
        entries.push(("word/styles.xml".into(), styles.into_bytes()));
    }
    if let Some(title) = title {
        entries.push(("docProps/core.xml".into(), core(title).into_bytes()));
    }
    zip_owned(&entries)
}

/// A `w:p` with an optional style and numbering and one run of `text`.
pub fn paragraph(style: Option<&str>, numbered: bool, text: &str) -> String {
    let mut properties = String::new();
    if let Some(style) = style {
        properties.push_str(&format!(r#"<w:pStyle w:val="{style}"/>"#));
    }
    if numbered {
        properties.push_str(r#"<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>"#);
    }
    let properties = if properties.is_empty() {
        String::new()
    } else {
        format!("<w:pPr>{properties}</w:pPr>")
    };
    format!(r#"<w:p>{properties}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
}

/// A `w:tbl` of `rows`.
pub fn word_table(rows: &[&[&str]]) -> String {
    let mut xml = String::from("<w:tbl><w:tblPr/>");
    for row in rows {
        xml.push_str("<w:tr>");
        for cell in *row {
            xml.push_str(&format!(
                "<w:tc><w:tcPr/>{}</w:tc>",
                paragraph(None, false, cell)
            ));
        }
        xml.push_str("</w:tr>");
    }
    xml.push_str("</w:tbl>");
    xml
}

/// A workbook of sheets (name, rows of cells): a cell starting with `#` is
/// a number, with `!` an inline string, any other a shared string.
pub fn xlsx(sheets: &[(&str, &[&[&str]])], title: Option<&str>) -> Vec<u8> {
    let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let mut shared: Vec<String> = Vec::new();
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut workbook_sheets = String::new();
    let mut relationships = String::new();
    for (index, (name, rows)) in sheets.iter().enumerate() {
        let number = index + 1;
        workbook_sheets.push_str(&format!(
            r#"<sheet name="{name}" sheetId="{number}" r:id="rId{number}"/>"#
        ));
        relationships.push_str(&format!(
            r#"<Relationship Id="rId{number}" Type="{rel}/worksheet" Target="worksheets/sheet{number}.xml"/>"#
        ));
        let mut data = String::new();
        for (row_index, row) in rows.iter().enumerate() {
            let r = row_index + 1;
            data.push_str(&format!(r#"<row r="{r}">"#));
            for (column, cell) in row.iter().enumerate() {
                if cell.is_empty() {
                    continue;
                }
                let reference = format!("{}{r}", char::from(b'A' + column as u8));
                if let Some(number) = cell.strip_prefix('#') {
                    data.push_str(&format!(r#"<c r="{reference}"><v>{number}</v></c>"#));
                } else if let Some(text) = cell.strip_prefix('!') {
                    data.push_str(&format!(
                        r#"<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>"#
                    ));
                } else {
                    data.push_str(&format!(
                        r#"<c r="{reference}" t="s"><v>{}</v></c>"#,
                        shared.len()
                    ));
                    shared.push((*cell).to_owned());
                }
            }
            data.push_str("</row>");
        }
        let sheet =
            format!(r#"{XML}<worksheet xmlns="{main}"><sheetData>{data}</sheetData></worksheet>"#);
        entries.push((
            format!("xl/worksheets/sheet{number}.xml"),
            sheet.into_bytes(),
        ));
    }
    let strings: String = shared
        .iter()
        .map(|text| format!("<si><t>{text}</t></si>"))
        .collect();
    entries.push((
        "xl/sharedStrings.xml".into(),
        format!(
            r#"{XML}<sst xmlns="{main}" count="{0}" uniqueCount="{0}">{strings}</sst>"#,
            shared.len()
        )
        .into_bytes(),
    ));
    entries.push((
        "xl/workbook.xml".into(),
        format!(r#"{XML}<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>{workbook_sheets}</sheets></workbook>"#)
            .into_bytes(),
    ));
    entries.push((
        "xl/_rels/workbook.xml.rels".into(),
        format!(
            r#"{XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{relationships}</Relationships>"#
        )
        .into_bytes(),
    ));
    entries.push((
        "_rels/.rels".into(),
        format!(
            r#"{XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
        )
        .into_bytes(),
    ));
    entries.push(("[Content_Types].xml".into(), content_types().into_bytes()));
    if let Some(title) = title {
        entries.push(("docProps/core.xml".into(), core(title).into_bytes()));
    }
    zip_owned(&entries)
}

/// A presentation of slides, each `(file number, spTree content)`.
pub fn pptx(slides: &[(u32, String)], title: Option<&str>) -> Vec<u8> {
    let namespaces = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        ("[Content_Types].xml".into(), content_types().into_bytes()),
        (
            "ppt/presentation.xml".into(),
            format!(r#"{XML}<p:presentation {namespaces}/>"#).into_bytes(),
        ),
    ];
    for (number, tree) in slides {
        let slide = format!(
            r#"{XML}<p:sld {namespaces}><p:cSld><p:spTree><p:nvGrpSpPr/>{tree}</p:spTree></p:cSld></p:sld>"#
        );
        entries.push((format!("ppt/slides/slide{number}.xml"), slide.into_bytes()));
        entries.push((
            format!("ppt/notesSlides/notesSlide{number}.xml"),
            format!(r#"{XML}<p:notes {namespaces}><a:p><a:r><a:t>speaker notes</a:t></a:r></a:p></p:notes>"#)
                .into_bytes(),
        ));
    }
    if let Some(title) = title {
        entries.push(("docProps/core.xml".into(), core(title).into_bytes()));
    }
    zip_owned(&entries)
}

/// A `p:sp` shape: a placeholder of `placeholder` type (if any) holding
/// one `a:p` a paragraph.
pub fn shape(placeholder: Option<&str>, paragraphs: &[&str]) -> String {
    let ph = placeholder.map_or(String::new(), |kind| format!(r#"<p:ph type="{kind}"/>"#));
    let body: String = paragraphs
        .iter()
        .map(|text| format!("<a:p><a:r><a:rPr lang=\"en-US\"/><a:t>{text}</a:t></a:r></a:p>"))
        .collect();
    format!(
        r#"<p:sp><p:nvSpPr><p:cNvPr id="2" name="Shape"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>{body}</p:txBody></p:sp>"#
    )
}

fn content_types() -> String {
    format!(r#"{XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#)
}

fn zip_owned(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let borrowed: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    zip(&borrowed)
}

/// A PDF with one page a content stream, in Helvetica.
pub fn pdf(pages: &[&[u8]]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let font = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    build_pdf(doc, dictionary! { "F1" => font }, pages)
}

/// How a Type0 font's ToUnicode CMap is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CMap {
    /// Not at all: the glyphs cannot be mapped to text.
    Missing,
    Plain,
    /// Behind the ASCIIHexDecode filter, which lopdf (so pdf-extract) does
    /// not decode and poppler does.
    Hex,
}

/// A PDF whose text is in a Type0 font with Identity-H encoding (two bytes
/// a glyph) and no embedded font program, mapped to Unicode by a ToUnicode
/// CMap: what CJK PDFs look like. `to_unicode` is `(glyph id, text)`.
pub fn pdf_type0(pages: &[&[u8]], to_unicode: &[(u16, &str)], stored: CMap) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    cmap.push_str(&format!("{} beginbfchar\n", to_unicode.len()));
    for (glyph, text) in to_unicode {
        let utf16: String = text
            .encode_utf16()
            .map(|unit| format!("{unit:04X}"))
            .collect();
        cmap.push_str(&format!("<{glyph:04X}> <{utf16}>\n"));
    }
    cmap.push_str("endbfchar\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    let descriptor = doc.add_object(dictionary! {
        "Type" => "FontDescriptor",
        "FontName" => "SimSun",
        "Flags" => 6,
        "FontBBox" => vec![0.into(), (-141).into(), 1000.into(), 859.into()],
        "ItalicAngle" => 0,
        "Ascent" => 859,
        "Descent" => -141,
        "CapHeight" => 683,
        "StemV" => 80,
    });
    let descendant = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "CIDFontType2",
        "BaseFont" => "SimSun",
        "CIDSystemInfo" => dictionary! {
            "Registry" => Object::string_literal("Adobe"),
            "Ordering" => Object::string_literal("Identity"),
            "Supplement" => 0,
        },
        "FontDescriptor" => descriptor,
        "DW" => 1000,
    });
    let mut font = dictionary! {
        "Type" => "Font",
        "Subtype" => "Type0",
        "BaseFont" => "SimSun",
        "Encoding" => "Identity-H",
        "DescendantFonts" => vec![descendant.into()],
    };
    let cmap = match stored {
        CMap::Missing => None,
        CMap::Plain => Some(Stream::new(dictionary! {}, cmap.into_bytes())),
        CMap::Hex => {
            let mut hex: String = cmap.bytes().map(|byte| format!("{byte:02X}")).collect();
            hex.push('>');
            let dict = dictionary! { "Filter" => "ASCIIHexDecode" };
            Some(Stream::new(dict, hex.into_bytes()).with_compression(false))
        }
    };
    if let Some(cmap) = cmap {
        let cmap = doc.add_object(cmap);
        font.set("ToUnicode", cmap);
    }
    let font = doc.add_object(font);
    build_pdf(doc, dictionary! { "F1" => font }, pages)
}

fn build_pdf(mut doc: Document, fonts: lopdf::Dictionary, pages: &[&[u8]]) -> Vec<u8> {
    let pages_id = doc.new_object_id();
    let resources = doc.add_object(dictionary! { "Font" => fonts });
    let mut kids: Vec<Object> = Vec::new();
    for content in pages {
        let content = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content,
        });
        kids.push(page.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

/// A content stream showing each line in Helvetica, one below the other.
pub fn text_lines(lines: &[&str]) -> Vec<u8> {
    let mut stream = String::from("BT\n/F1 12 Tf\n14 TL\n72 760 Td\n");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        stream.push_str(&format!("({escaped}) Tj T*\n"));
    }
    stream.push_str("ET\n");
    stream.into_bytes()
}

/// A content stream showing `glyphs` (two bytes each) in the Type0 font.
pub fn glyph_line(glyphs: &[u16]) -> Vec<u8> {
    let hex: String = glyphs.iter().map(|glyph| format!("{glyph:04X}")).collect();
    format!("BT\n/F1 12 Tf\n72 760 Td\n<{hex}> Tj\nET\n").into_bytes()
}

/// A ZIP of one deflated entry `name` holding `size` zero bytes, which
/// declares `declared` as its size (honest or not), and a CRC of 0.
pub fn zeros_bomb(name: &str, size: u64, declared: u32) -> Vec<u8> {
    let data = deflate_zeros(size);
    let mut zip = Vec::new();
    let compressed = u32::try_from(data.len()).unwrap();
    let name_len = u16::try_from(name.len()).unwrap();
    // Local file header.
    zip.extend_from_slice(b"PK\x03\x04");
    zip.extend_from_slice(&20u16.to_le_bytes()); // version needed
    zip.extend_from_slice(&0u16.to_le_bytes()); // flags
    zip.extend_from_slice(&8u16.to_le_bytes()); // deflate
    zip.extend_from_slice(&[0; 4]); // time, date
    zip.extend_from_slice(&0u32.to_le_bytes()); // crc
    zip.extend_from_slice(&compressed.to_le_bytes());
    zip.extend_from_slice(&declared.to_le_bytes());
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes()); // extra
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(&data);
    let directory_at = u32::try_from(zip.len()).unwrap();
    // Central directory header.
    zip.extend_from_slice(b"PK\x01\x02");
    zip.extend_from_slice(&20u16.to_le_bytes()); // made by
    zip.extend_from_slice(&20u16.to_le_bytes()); // needed
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(&8u16.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&0u32.to_le_bytes());
    zip.extend_from_slice(&compressed.to_le_bytes());
    zip.extend_from_slice(&declared.to_le_bytes());
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // local header at 0
    zip.extend_from_slice(name.as_bytes());
    let directory_len = u32::try_from(zip.len()).unwrap() - directory_at;
    // End of central directory.
    zip.extend_from_slice(b"PK\x05\x06");
    zip.extend_from_slice(&[0; 4]); // disks
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&directory_len.to_le_bytes());
    zip.extend_from_slice(&directory_at.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

/// A raw deflate stream of `size` zeros: one fixed-Huffman block of a
/// literal zero, then copies of 258 bytes at distance 1.
fn deflate_zeros(size: u64) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.push(1, 1); // final block
    bits.push(1, 2); // fixed Huffman codes
    let literal_zero = |bits: &mut Bits| bits.push_code(0x30, 8);
    let mut left = size;
    if left > 0 {
        literal_zero(&mut bits);
        left -= 1;
    }
    while left >= 258 {
        bits.push_code(0xC5, 8); // length code 285: 258 bytes
        bits.push_code(0, 5); // distance code 0: distance 1
        left -= 258;
    }
    for _ in 0..left {
        literal_zero(&mut bits);
    }
    bits.push_code(0, 7); // end of block
    bits.finish()
}

/// Bits packed from the least significant end, as deflate wants.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    current: u32,
    used: u32,
}

impl Bits {
    fn push(&mut self, value: u32, count: u32) {
        self.current |= value << self.used;
        self.used += count;
        while self.used >= 8 {
            self.bytes.push((self.current & 0xFF) as u8);
            self.current >>= 8;
            self.used -= 8;
        }
    }

    /// A Huffman code, which deflate writes from its most significant bit.
    fn push_code(&mut self, code: u32, length: u32) {
        let reversed = code.reverse_bits() >> (32 - length);
        self.push(reversed, length);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.bytes.push((self.current & 0xFF) as u8);
        }
        self.bytes
    }
}
