//! Round trips of every format to exact blocks, and the hostile inputs:
//! mismatched and unknown types, damaged files, bombs, limits.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use super::fixtures::{self, paragraph, shape, word_table};
use super::*;
use crate::types::Block;

fn h(level: u8, text: &str) -> Block {
    Block::Heading {
        level,
        text: text.into(),
    }
}

fn p(text: &str) -> Block {
    Block::Paragraph { text: text.into() }
}

fn li(text: &str) -> Block {
    Block::ListItem { text: text.into() }
}

fn row(header: &[&str], cells: &[&str]) -> Block {
    Block::TableRow {
        header: header.iter().map(|cell| (*cell).to_owned()).collect(),
        cells: cells.iter().map(|cell| (*cell).to_owned()).collect(),
    }
}

fn page(number: u32) -> Block {
    Block::Page { number }
}

fn read(name: &str, bytes: &[u8]) -> Document {
    match extract(name, bytes, &ExtractLimits::default()) {
        Ok(document) => document,
        Err(error) => panic!("{name}: {error}"),
    }
}

fn error(name: &str, bytes: &[u8]) -> ExtractError {
    error_with(name, bytes, &ExtractLimits::default())
}

fn error_with(name: &str, bytes: &[u8], limits: &ExtractLimits) -> ExtractError {
    match extract(name, bytes, limits) {
        Ok(document) => panic!("{name} was read: {document:?}"),
        Err(error) => error,
    }
}

// ---- text ----

#[test]
fn text_splits_paragraphs_at_blank_lines() {
    let text = "First line\r\nsecond line   \r\n\r\n  \n Second paragraph.\n\n\n";
    let document = read("notes.TXT", text.as_bytes());
    assert_eq!(document.title, "notes");
    assert_eq!(document.extractor, "text");
    assert_eq!(
        document.blocks,
        vec![p("First line\nsecond line"), p(" Second paragraph.")]
    );
}

#[test]
fn underlined_text_lines_are_headings_and_the_opening_one_titles_the_file() {
    let text = "Harbourview Procedure: Reporting an Accident\n\
        ============================================\n\n\
        Purpose\n-------\n\nWhat to do when someone is hurt.\n\n\
        启明医疗关于绩效考核的通知\n===\n\
        正文第一行\n\n\
        Totals\n  ~~~~  \nline under a tilde heading\n\n\
        not underlined\n--\n\n\
        -----\n=====\n\n\
        Name    Amount\n----    ------\n";
    let document = read("procedure.txt", text.as_bytes());
    assert_eq!(
        document.title,
        "Harbourview Procedure: Reporting an Accident"
    );
    assert_eq!(
        document.blocks,
        vec![
            h(1, "Harbourview Procedure: Reporting an Accident"),
            h(2, "Purpose"),
            p("What to do when someone is hurt."),
            h(1, "启明医疗关于绩效考核的通知"),
            p("正文第一行"),
            h(3, "Totals"),
            p("line under a tilde heading"),
            // Two dashes are no underline; a rule under a rule is no heading;
            // a column ruler with spaces is no underline.
            p("not underlined\n--"),
            p("-----\n====="),
            p("Name    Amount\n----    ------"),
        ]
    );
    // A file that opens with text keeps its file name as its title.
    let later = read("notes.txt", b"Opening words.\n\nSection\n=======\n\nBody.");
    assert_eq!(later.title, "notes");
    assert_eq!(later.blocks[1], h(1, "Section"));
}

#[test]
fn text_in_utf16_with_a_byte_order_mark_is_read() {
    let mut little = vec![0xFF, 0xFE];
    little.extend(
        "你好, world\n\nzwei"
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    assert_eq!(
        read("a.txt", &little).blocks,
        vec![p("你好, world"), p("zwei")]
    );
    let mut big = vec![0xFE, 0xFF];
    big.extend("big endian".encode_utf16().flat_map(u16::to_be_bytes));
    assert_eq!(read("b.txt", &big).blocks, vec![p("big endian")]);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice("with a BOM".as_bytes());
    assert_eq!(read("c.txt", &bom).blocks, vec![p("with a BOM")]);
}

#[test]
fn invalid_text_is_corrupt() {
    assert_eq!(
        error("bad.txt", b"caf\xE9 au lait"),
        ExtractError::Corrupt("the file is not valid UTF-8 text".into())
    );
    assert_eq!(
        error("odd.txt", b"\xFF\xFEa"),
        ExtractError::Corrupt("the file is not valid UTF-16 text".into())
    );
    // An unpaired surrogate.
    assert_eq!(
        error("pair.txt", b"\xFF\xFE\x00\xD8a\x00"),
        ExtractError::Corrupt("the file is not valid UTF-16 text".into())
    );
}

#[test]
fn empty_files_have_no_text() {
    assert_eq!(error("empty.txt", b""), ExtractError::NoText);
    assert_eq!(error("empty.pdf", b""), ExtractError::NoText);
    assert_eq!(error("blank.md", b" \n\n\t\n"), ExtractError::NoText);
}

// ---- markdown ----

#[test]
fn markdown_keeps_headings_lists_tables_and_code() {
    let markdown = "\
---
title: \"Field Guide\"
author: someone
---

# Birds

Birds are *warm-blooded*
vertebrates.

## Songbirds

- Sparrow
- Finch, with `code`
  - nested item

1. First

   with a second paragraph
2. Second

### Table

| Name | Wingspan |
|------|---------:|
| Robin | 25 cm |
| Wren \\| small | 15 cm |

```rust
fn main() {
    fly();
}
```

<div>raw html is dropped</div>

## Raptors

> Eagles soar.
";
    let document = read("guide.md", markdown.as_bytes());
    assert_eq!(document.title, "Field Guide");
    assert_eq!(document.extractor, "markdown");
    assert_eq!(
        document.blocks,
        vec![
            h(1, "Birds"),
            p("Birds are warm-blooded vertebrates."),
            h(2, "Songbirds"),
            li("Sparrow"),
            li("Finch, with code"),
            li("nested item"),
            li("First with a second paragraph"),
            li("Second"),
            h(3, "Table"),
            row(&["Name", "Wingspan"], &["Robin", "25 cm"]),
            row(&["Name", "Wingspan"], &["Wren | small", "15 cm"]),
            p("fn main() {\n    fly();\n}"),
            h(2, "Raptors"),
            p("Eagles soar."),
        ]
    );
}

#[test]
fn markdown_without_a_title_is_named_by_its_file() {
    let document = read("docs/Read.Me.markdown", b"Just text.");
    assert_eq!(document.title, "Read.Me");
    assert_eq!(document.blocks, vec![p("Just text.")]);
}

#[test]
fn markdown_opening_with_a_top_heading_is_titled_by_it() {
    let opening = read(
        "en-contract-002.md",
        b"# Office Lease between Brightwater Foods plc and Albion Estates Ltd\n\n## 1. Term\n\nTwelve months.",
    );
    assert_eq!(
        opening.title,
        "Office Lease between Brightwater Foods plc and Albion Estates Ltd"
    );
    // The heading stays a block: the chunks under it keep it as context.
    assert_eq!(opening.blocks[0], h(1, &opening.title));
    // Text first, or a second-level heading first: the file name.
    let text_first = read("a.md", b"Intro.\n\n# Heading\n\nBody.");
    assert_eq!(text_first.title, "a");
    let lower_first = read("b.md", b"## Section\n\nBody.");
    assert_eq!(lower_first.title, "b");
}

#[test]
fn deeply_nested_markdown_is_read_without_overflowing() {
    let mut markdown = ">".repeat(50_000);
    markdown.push_str(" deep\n\n");
    for depth in 0..5_000 {
        markdown.push_str(&"  ".repeat(depth));
        markdown.push_str("- item\n");
    }
    let document = read("deep.md", markdown.as_bytes());
    assert_eq!(document.blocks.first(), Some(&p("deep")));
}

// ---- html ----

#[test]
fn html_drops_boilerplate_and_keeps_structure() {
    let html = r#"<!DOCTYPE html>
<html><head><title> Quarterly
  Report </title><style>body { color: red }</style>
<script>var secret = "do not index";</script></head>
<body>
<header><a href="/">Home</a></header>
<nav><ul><li>Menu</li></ul></nav>
<main>
  <h1>Results</h1>
  <p>Revenue <b>grew</b>&nbsp;12%
     this quarter.</p>
  <div>Loose text<p>inner paragraph</p>tail text</div>
  <ul><li>North<ul><li>City</li></ul></li><li>South</li></ul>
  <table>
    <tr><th>Region</th><th>Sales</th></tr>
    <tr><td>North</td><td><p>10</p></td></tr>
    <tr><td>South</td><td>20</td></tr>
  </table>
  <pre>line one
  line two</pre>
  <h3>Notes &amp; caveats</h3>
  <noscript>enable scripts</noscript>
  <form><input value="x"><button>Send</button></form>
  <svg><title>icon</title><text>svg text</text></svg>
</main>
<aside>Related links</aside>
<footer>Copyright</footer>
</body></html>"#;
    let document = read("report.HTM", html.as_bytes());
    assert_eq!(document.title, "Quarterly Report");
    assert_eq!(document.extractor, "html");
    assert_eq!(
        document.blocks,
        vec![
            h(1, "Results"),
            p("Revenue grew 12% this quarter."),
            p("Loose text"),
            p("inner paragraph"),
            p("tail text"),
            li("North"),
            li("City"),
            li("South"),
            row(&["Region", "Sales"], &["North", "10"]),
            row(&["Region", "Sales"], &["South", "20"]),
            p("line one\n  line two"),
            h(3, "Notes & caveats"),
        ]
    );
}

#[test]
fn html_table_without_header_cells_has_no_header() {
    let html = "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>";
    assert_eq!(
        read("t.html", html.as_bytes()).blocks,
        vec![row(&[], &["a", "b"]), row(&[], &["c", "d"])]
    );
}

#[test]
fn nested_html_is_read_and_pathological_nesting_refused() {
    let nested = |depth: usize| {
        format!(
            "{}deep text{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        )
    };
    let document = read("deep.html", nested(2_000).as_bytes());
    assert_eq!(document.blocks, vec![p("deep text")]);
    let started = Instant::now();
    assert_eq!(
        error("deeper.html", nested(100_000).as_bytes()),
        ExtractError::TooLarge("the HTML nests its elements too deeply to be read".into())
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Unclosed paragraphs and list items, void elements, comments and
    // script text do not count as nesting.
    let mut sloppy = String::from("<ul>");
    for _ in 0..30_000 {
        sloppy.push_str("<li>item<br><img src=x><!-- <div><div> --><p>text");
    }
    sloppy.push_str("<script>if (a<b) { x = '<div><div><div>'; }</script>");
    let document = read("sloppy.html", sloppy.as_bytes());
    assert_eq!(document.blocks.len(), 60_000);
}

// ---- docx ----

const WORD_STYLES: &str = r#"
<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>
<w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="1"/></w:style>
<w:style w:type="paragraph" w:styleId="Custom"><w:name w:val="My Outline"/><w:pPr><w:outlineLvl w:val="2"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/><w:pPr><w:numPr><w:numId w:val="3"/></w:numPr></w:pPr></w:style>
<w:style w:type="character" w:styleId="Strong"><w:name w:val="Strong"/></w:style>
"#;

#[test]
fn docx_reads_headings_lists_and_tables() {
    let body = [
        paragraph(Some("Title"), false, "Annual Plan"),
        paragraph(Some("1"), false, "Goals"),
        paragraph(None, false, "We plan &amp; deliver."),
        paragraph(None, true, "Grow revenue"),
        paragraph(Some("ListBullet"), false, "Hire people"),
        paragraph(Some("Heading2"), false, "Budget"),
        word_table(&[&["Item", "Cost"], &["Servers", "100"], &["Office", "50"]]),
        paragraph(Some("Custom"), false, "Outlined"),
        // Deleted text, moved-away text and fallback copies are not read.
        r#"<w:p><w:r><w:t>Kept</w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:moveFrom><w:r><w:t>moved</w:t></w:r></w:moveFrom><w:r><w:tab/><w:t>after tab</w:t></w:r></w:p>"#.to_owned(),
        r#"<w:p><mc:AlternateContent><mc:Choice><w:r><w:t>choice</w:t></w:r></mc:Choice><mc:Fallback><w:r><w:t>fallback</w:t></w:r></mc:Fallback></mc:AlternateContent></w:p>"#.to_owned(),
        word_table(&[&["lonely", "row"]]),
    ]
    .concat();
    let bytes = fixtures::docx(&body, Some(WORD_STYLES), None);
    let document = read("plan.docx", &bytes);
    assert_eq!(document.title, "Annual Plan");
    assert_eq!(document.extractor, "docx");
    assert_eq!(
        document.blocks,
        vec![
            h(1, "Annual Plan"),
            h(1, "Goals"),
            p("We plan & deliver."),
            li("Grow revenue"),
            li("Hire people"),
            h(2, "Budget"),
            row(&["Item", "Cost"], &["Servers", "100"]),
            row(&["Item", "Cost"], &["Office", "50"]),
            h(3, "Outlined"),
            p("Kept after tab"),
            p("choice"),
            row(&[], &["lonely", "row"]),
        ]
    );
}

#[test]
fn docx_without_styles_reads_style_ids_and_takes_the_core_title() {
    let body = [
        paragraph(Some("Heading2"), false, "Section"),
        paragraph(None, false, "Body text."),
    ]
    .concat();
    let bytes = fixtures::docx(&body, None, Some("Core &amp; Title"));
    let document = read("x.docx", &bytes);
    assert_eq!(document.title, "Core & Title");
    assert_eq!(document.blocks, vec![h(2, "Section"), p("Body text.")]);
}

#[test]
fn docx_nested_table_is_text_of_its_cell() {
    let inner = word_table(&[&["x", "y"]]);
    let body = format!(
        "<w:tbl><w:tr><w:tc>{}</w:tc><w:tc>{}</w:tc></w:tr><w:tr><w:tc>{}</w:tc><w:tc>{}{inner}</w:tc></w:tr></w:tbl>",
        paragraph(None, false, "A"),
        paragraph(None, false, "B"),
        paragraph(None, false, "1"),
        paragraph(None, false, "2"),
    );
    let document = read("n.docx", &fixtures::docx(&body, None, None));
    assert_eq!(document.blocks, vec![row(&["A", "B"], &["1", "2 x y"])]);
}

// ---- xlsx ----

#[test]
fn xlsx_reads_each_sheet_under_its_header() {
    let people: &[&[&str]] = &[
        &[],
        &["Name", "!Age", "City"],
        &["Ann", "#34", "Oslo"],
        &["Bo", "#7.5", ""],
        &[],
        &["!Cy", "#-2", "Rome"],
    ];
    let totals: &[&[&str]] = &[&["Year", "Total"], &["#2024", "#1000"]];
    let only_header: &[&[&str]] = &[&["just", "one row"]];
    let empty: &[&[&str]] = &[];
    let bytes = fixtures::xlsx(
        &[
            ("People", people),
            ("Totals", totals),
            ("Single", only_header),
            ("Empty", empty),
        ],
        Some("Staff"),
    );
    let document = read("staff.xlsx", &bytes);
    assert_eq!(document.title, "Staff");
    assert_eq!(document.extractor, "xlsx");
    let header = ["Name", "Age", "City"];
    assert_eq!(
        document.blocks,
        vec![
            h(1, "People"),
            row(&header, &["Ann", "34", "Oslo"]),
            row(&header, &["Bo", "7.5", ""]),
            row(&header, &["Cy", "-2", "Rome"]),
            h(1, "Totals"),
            row(&["Year", "Total"], &["2024", "1000"]),
            h(1, "Single"),
            row(&[], &["just", "one row"]),
        ]
    );
}

// ---- csv, tsv ----

#[test]
fn csv_reads_quoted_fields_under_a_chinese_header() {
    let csv = "姓名,城市,备注\n张三,北京,\"喜欢, 逗号\"\n\n李四,上海,\"说 \"\"你好\"\"\"\n王五,\"多\n行\"\n";
    let document = read("people.csv", csv.as_bytes());
    assert_eq!(document.title, "people");
    assert_eq!(document.extractor, "csv");
    let header = ["姓名", "城市", "备注"];
    assert_eq!(
        document.blocks,
        vec![
            row(&header, &["张三", "北京", "喜欢, 逗号"]),
            row(&header, &["李四", "上海", "说 \"你好\""]),
            row(&header, &["王五", "多 行"]),
        ]
    );
}

#[test]
fn tsv_splits_at_tabs() {
    let document = read("t.tsv", b"a\tb, c\n1\t2, 3\n");
    assert_eq!(document.extractor, "tsv");
    assert_eq!(document.blocks, vec![row(&["a", "b, c"], &["1", "2, 3"])]);
}

// ---- pptx ----

#[test]
fn pptx_reads_slides_in_order_with_titles_as_headings() {
    let first = [
        shape(None, &["Body before the title in the file"]),
        shape(Some("ctrTitle"), &["Launch", "Plan"]),
        shape(Some("subTitle"), &["Spring &amp; summer"]),
    ]
    .concat();
    let second = [
        shape(Some("title"), &["Timeline"]),
        shape(None, &["Design", "", "Build"]),
        r#"<p:graphicFrame><a:graphic><a:graphicData><a:tbl><a:tr><a:tc><a:txBody><a:p><a:r><a:t>Phase</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>Weeks</a:t></a:r></a:p></a:txBody></a:tc></a:tr><a:tr><a:tc><a:txBody><a:p><a:r><a:t>Design</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>4</a:t></a:r></a:p></a:txBody></a:tc></a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>"#.to_owned(),
    ]
    .concat();
    let bytes = fixtures::pptx(&[(2, second), (1, first)], Some("Roadmap"));
    let document = read("deck.pptx", &bytes);
    assert_eq!(document.title, "Roadmap");
    assert_eq!(document.extractor, "pptx");
    assert_eq!(
        document.blocks,
        vec![
            page(1),
            h(1, "Launch Plan"),
            p("Body before the title in the file"),
            p("Spring & summer"),
            page(2),
            h(1, "Timeline"),
            p("Design"),
            p("Build"),
            row(&["Phase", "Weeks"], &["Design", "4"]),
        ]
    );
}

#[test]
fn pptx_slides_are_ordered_by_number_not_name() {
    let slides: Vec<(u32, String)> = [10, 2, 1]
        .into_iter()
        .map(|number| (number, shape(None, &[&format!("slide {number}")])))
        .collect();
    let document = read("d.pptx", &fixtures::pptx(&slides, None));
    assert_eq!(document.title, "d");
    assert_eq!(
        document.blocks,
        vec![
            page(1),
            p("slide 1"),
            page(2),
            p("slide 2"),
            page(3),
            p("slide 10")
        ]
    );
}

// ---- pdf ----

#[test]
fn pdf_text_is_read_page_by_page() {
    let first = fixtures::text_lines(&["Quarterly report", "", "Revenue grew twelve percent."]);
    let second = fixtures::text_lines(&["Second page (final)."]);
    let bytes = fixtures::pdf(&[&first, &second]);
    let document = read("report.pdf", &bytes);
    assert_eq!(document.extractor, "pdf-extract");
    assert_eq!(document.title, "report");
    assert_eq!(
        document.blocks,
        vec![
            page(1),
            p("Quarterly report"),
            p("Revenue grew twelve percent."),
            page(2),
            p("Second page (final)."),
        ]
    );
}

/// Glyphs 1..=6 of the CJK test font and the text each stands for.
const CJK_GLYPHS: [(u16, &str); 6] = [
    (1, "季"),
    (2, "度"),
    (3, "报"),
    (4, "告"),
    (5, "："),
    (6, "好"),
];

#[test]
fn cjk_pdf_with_a_readable_cmap_is_read_by_pdf_extract() {
    let content = fixtures::glyph_line(&[1, 2, 3, 4, 5, 6]);
    let bytes = fixtures::pdf_type0(&[&content], &CJK_GLYPHS, fixtures::CMap::Plain);
    let document = read("cjk.pdf", &bytes);
    assert_eq!(document.extractor, "pdf-extract");
    assert_eq!(document.blocks, vec![page(1), p("季度报告：好")]);
}

#[test]
fn cjk_pdf_that_pdf_extract_cannot_decode_falls_back_to_pdftotext() {
    // The ToUnicode CMap is behind a filter lopdf lacks: pdf-extract finds
    // no text, poppler reads it.
    let content = fixtures::glyph_line(&[1, 2, 3, 4, 5, 6]);
    let bytes = fixtures::pdf_type0(&[&content, &content], &CJK_GLYPHS, fixtures::CMap::Hex);
    if !pdftotext::installed() {
        eprintln!("pdftotext is not installed: the fallback is not tested (apt-get install poppler-utils)");
        assert_eq!(error("cjk.pdf", &bytes), ExtractError::NoText);
        return;
    }
    let document = read("cjk.pdf", &bytes);
    assert_eq!(document.extractor, "pdftotext");
    assert_eq!(
        document.blocks,
        vec![page(1), p("季度报告：好"), page(2), p("季度报告：好")]
    );
}

#[test]
fn pdf_glyphs_without_any_mapping_have_no_text() {
    let content = fixtures::glyph_line(&[1, 2, 3, 4]);
    let bytes = fixtures::pdf_type0(&[&content], &CJK_GLYPHS, fixtures::CMap::Missing);
    assert_eq!(error("glyphs.pdf", &bytes), ExtractError::NoText);
}

#[test]
fn pdf_without_text_has_no_text() {
    let bytes = fixtures::pdf(&[b"0 0 m 100 100 l S\n"]);
    assert_eq!(error("drawing.pdf", &bytes), ExtractError::NoText);
}

#[test]
fn damaged_pdf_is_corrupt() {
    assert_eq!(
        error(
            "broken.pdf",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\n%%EOF"
        ),
        ExtractError::Corrupt("the PDF file is damaged or encrypted and could not be read".into())
    );
}

// ---- mismatches, unknown types ----

#[test]
fn content_must_match_the_extension() {
    let zip = fixtures::zip(&[("a.txt", b"hello")]);
    assert_eq!(
        error("report.pdf", &zip),
        ExtractError::Mismatch {
            claimed: "PDF".into(),
            actual: "a ZIP archive".into()
        }
    );
    assert_eq!(
        error("letter.docx", b"Dear reader, this is plain text."),
        ExtractError::Mismatch {
            claimed: "DOCX".into(),
            actual: "plain text".into()
        }
    );
    assert_eq!(
        error(
            "sheet.xlsx",
            &fixtures::docx(&paragraph(None, false, "x"), None, None)
        ),
        ExtractError::Mismatch {
            claimed: "XLSX".into(),
            actual: "a Word document (DOCX)".into()
        }
    );
    assert_eq!(
        error("deck.pptx", &zip),
        ExtractError::Mismatch {
            claimed: "PPTX".into(),
            actual: "a ZIP archive that is not an Office document".into()
        }
    );
    let pdf = fixtures::pdf(&[&fixtures::text_lines(&["x"])]);
    assert_eq!(
        error("notes.txt", &pdf),
        ExtractError::Mismatch {
            claimed: "text".into(),
            actual: "PDF".into()
        }
    );
    assert_eq!(
        error("old.docx", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"),
        ExtractError::Mismatch {
            claimed: "DOCX".into(),
            actual: "a legacy Office file (doc, xls or ppt)".into()
        }
    );
    assert_eq!(
        ExtractError::Mismatch {
            claimed: "PDF".into(),
            actual: "a ZIP archive".into()
        }
        .to_string(),
        "the file is named as PDF but its content is a ZIP archive"
    );
}

#[test]
fn a_text_file_may_mention_pdf_magic() {
    let text = "Notes on the format: every file starts with %PDF-1.7 and so on.";
    assert_eq!(read("pdf-notes.txt", text.as_bytes()).blocks, vec![p(text)]);
}

#[test]
fn unknown_types_are_unsupported() {
    assert_eq!(
        error("photo.png", b"\x89PNG\r\n\x1a\n...."),
        ExtractError::Unsupported(".png".into())
    );
    assert_eq!(
        error("README", b"no extension"),
        ExtractError::Unsupported("plain text".into())
    );
    assert_eq!(
        error(".hidden", b"\x00\x01binary"),
        ExtractError::Unsupported("binary data".into())
    );
    assert_eq!(
        ExtractError::Unsupported(".png".into()).to_string(),
        "files of type .png are not supported"
    );
}

#[test]
fn damaged_archives_are_corrupt() {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend_from_slice(&[0x55; 200]);
    assert_eq!(
        error("broken.docx", &bytes),
        ExtractError::Corrupt("the DOCX file is damaged and could not be read".into())
    );
    // A valid archive whose main part stops short: read as far as it goes.
    let bytes = fixtures::zip(&[("word/document.xml", b"<w:document><w:body><w:p>")]);
    assert_eq!(error("cut.docx", &bytes), ExtractError::NoText);
    let mut bytes = fixtures::docx(&paragraph(None, false, "some text here"), None, None);
    bytes.truncate(bytes.len() / 2);
    assert_eq!(
        error("half.docx", &bytes),
        ExtractError::Corrupt("the DOCX file is damaged and could not be read".into())
    );
    let mut bytes = fixtures::xlsx(&[("S", &[&["a"]])], None);
    bytes.truncate(bytes.len() - 30);
    assert_eq!(
        error("half.xlsx", &bytes),
        ExtractError::Corrupt("the XLSX file is damaged and could not be read".into())
    );
}

// ---- limits ----

const GIB: u64 = 1 << 30;

#[test]
fn zip_bomb_declaring_its_size_is_refused_at_once() {
    let started = Instant::now();
    let bomb = fixtures::zeros_bomb("word/document.xml", GIB, u32::try_from(GIB).unwrap());
    assert!(bomb.len() < 8 << 20, "the bomb is {} bytes", bomb.len());
    assert_eq!(
        error("bomb.docx", &bomb),
        ExtractError::TooLarge("the archive decompresses to more than the 512 MiB allowed".into())
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn zip_bomb_lying_about_its_size_is_damaged() {
    // The ZIP reader stops at the declared size; the data goes on.
    let started = Instant::now();
    let bomb = fixtures::zeros_bomb("word/document.xml", GIB, 1000);
    assert_eq!(
        error("bomb.docx", &bomb),
        ExtractError::Corrupt("the DOCX file is damaged and could not be read".into())
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn archive_parts_without_markup_stop_at_the_text_limit() {
    // Zeros hold no `<`: the reader stops once they pass the text limit
    // rather than let the XML parser buffer them as one text node.
    let size = 8 << 20;
    let declared = u32::try_from(size).unwrap();
    let limits = ExtractLimits {
        max_text_bytes: 2 << 20,
        ..ExtractLimits::default()
    };
    let text_limit =
        ExtractError::TooLarge("the file holds more than the 2 MiB of text allowed".into());
    let bomb = fixtures::zeros_bomb("word/document.xml", size, declared);
    assert_eq!(error_with("bomb.docx", &bomb, &limits), text_limit);
    // calamine opens the archive itself: its XML parts are inflated under
    // the limits first.
    let bomb = fixtures::zeros_bomb("xl/workbook.xml", size, declared);
    assert_eq!(error_with("bomb.xlsx", &bomb, &limits), text_limit);
    let limits = ExtractLimits {
        max_inflated: 1 << 20,
        ..ExtractLimits::default()
    };
    assert_eq!(
        error_with("bomb.xlsx", &bomb, &limits),
        ExtractError::TooLarge("the archive decompresses to more than the 1 MiB allowed".into())
    );
}

#[test]
fn archives_with_too_many_entries_are_refused() {
    let names: Vec<String> = (0..10_001).map(|index| format!("f{index}.xml")).collect();
    let mut entries: Vec<(&str, &[u8])> =
        names.iter().map(|name| (name.as_str(), &b""[..])).collect();
    entries.push(("word/document.xml", b"<w:document/>"));
    let bytes = fixtures::zip(&entries);
    assert_eq!(
        error("many.docx", &bytes),
        ExtractError::TooLarge("the archive has more than the 10000 entries allowed".into())
    );
}

#[test]
fn files_over_the_size_limit_are_refused_before_reading() {
    let limits = ExtractLimits {
        max_bytes: 10,
        ..ExtractLimits::default()
    };
    assert_eq!(
        error_with("a.txt", b"eleven byte", &limits),
        ExtractError::TooLarge("the file is 11 bytes, more than the 10 bytes allowed".into())
    );
}

#[test]
fn text_over_the_text_limit_is_refused() {
    let limits = ExtractLimits {
        max_text_bytes: 1024,
        ..ExtractLimits::default()
    };
    let text = "word ".repeat(300);
    assert_eq!(
        error_with("long.txt", text.as_bytes(), &limits),
        ExtractError::TooLarge("the file holds more than the 1 KiB of text allowed".into())
    );
    let csv = "a,b\n".repeat(200);
    assert_eq!(
        error_with("t.csv", csv.as_bytes(), &limits),
        ExtractError::TooLarge("the file holds more than the 1 KiB of text allowed".into())
    );
}

#[test]
fn slow_extraction_times_out() {
    let limits = ExtractLimits {
        timeout: Duration::ZERO,
        ..ExtractLimits::default()
    };
    let markdown = "# Title\n\nSome *text* here.\n\n".repeat(20_000);
    assert_eq!(
        error_with("big.md", markdown.as_bytes(), &limits),
        ExtractError::TimedOut
    );
}

#[test]
fn a_panic_in_a_reader_is_corrupt() {
    #[allow(clippy::panic)]
    let result = caught(|| panic!("reader bug"));
    assert_eq!(
        result,
        Err(ExtractError::Corrupt("the file could not be read".into()))
    );
}

#[test]
fn file_names_split_into_stem_and_extension() {
    assert_eq!(
        split_name("a/b/Report.Final.PDF"),
        ("Report.Final", "pdf".to_owned())
    );
    assert_eq!(split_name("C:\\docs\\x.Docx"), ("x", "docx".to_owned()));
    assert_eq!(split_name(".env"), (".env", String::new()));
    assert_eq!(split_name("plain"), ("plain", String::new()));
}

#[test]
fn sizes_read_as_people_write_them() {
    assert_eq!(human_size(10), "10 bytes");
    assert_eq!(human_size(1536), "1.5 KiB");
    assert_eq!(human_size(64 << 20), "64 MiB");
    assert_eq!(human_size(GIB), "1 GiB");
}
