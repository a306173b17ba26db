import Foundation
import Testing

@testable import FileSources

@Suite("HTML to text")
struct HTMLTextTests {
    func convert(_ html: String) -> HTMLText { HTMLText.convert(Array(html.utf8)) }

    @Test("title from <title>, else the first <h1>; headings and paragraphs are blank-line separated")
    func titleAndParagraphs() {
        let page = convert(
            """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>  Reset   your password </title></head>
            <body><h1>Reset</h1><p>Open <b>Settings</b>,
            then choose <a href="/x">Reset</a>.</p><h2>If it fails</h2><div><div><p>Call us.</p></div></div></body></html>
            """)
        #expect(page.title == "Reset your password")
        #expect(page.text == "Reset\n\nOpen Settings, then choose Reset.\n\nIf it fails\n\nCall us.")
        #expect(convert("<h2>Second</h2><h1> First  <em>one</em></h1><h1>Later</h1>").title == "First one")
        #expect(convert("<p>no heading</p>").title == nil)
    }

    @Test("scripts, styles, nav, noscript, template, comments, svg dropped; header and footer kept only in an article")
    func droppedParts() {
        let page = convert(
            """
            <header><h1>Site name</h1><nav><a href="/">Home</a> <a href="/b">Blog</a></nav></header>
            <script>var x = "</div><p>not text</p>"; if (a < b) {}</script>
            <style>p { color: red }</style><noscript><p>enable JS</p></noscript><template><p>tpl</p></template>
            <!-- a comment with <p>markup</p> -->
            <main><article><header><h1>Article title</h1><p>by Ann</p></header>
            <p>Body <svg><title>icon</title><text>svg text</text></svg>text.</p>
            <footer>Article footer</footer></article></main>
            <footer><p>Site footer</p></footer>
            """)
        #expect(page.text == "Article title\n\nby Ann\n\nBody text.\n\nArticle footer", "\(page.text)")
        #expect(page.title == "Article title")
    }

    @Test("lists are one item a line with '- ', nested ones indented; <br> is a line break; <pre> is verbatim")
    func listsBreaksPre() {
        let page = convert(
            """
            <p>Steps:</p><ul><li>One</li><li><p>Two</p><ul><li>Two a</li></ul></li><li>Three<br>continued</li></ul>
            <ol><li>first<li>second</ol>
            <pre>
            let x = 1
                indented &lt;kept&gt;
            </pre><p>after</p>
            """)
        #expect(
            page.text
                == "Steps:\n\n- One\n- Two\n  - Two a\n- Three\ncontinued\n\n- first\n- second\n\nlet x = 1\n    indented <kept>\n\nafter",
            "\(page.text)")
    }

    @Test("tables: one row a line, cells joined by ' | ', empty cells kept, block tags in cells become spaces")
    func tables() {
        let page = convert(
            """
            <table><thead><tr><th>Plan</th><th>Price</th><th>Notes</th></tr></thead>
            <tbody><tr><td>Basic</td><td>$5</td><td></td></tr><tr><td><p>Pro</p></td><td>$10</td><td>best <br>value</td></tr></tbody></table>
            <p>after</p>
            """)
        #expect(page.text == "Plan | Price | Notes\nBasic | $5 |\nPro | $10 | best value\n\nafter", "\(page.text)")
    }

    @Test("entities: named, decimal, hex, Windows-1252 range; invalid ones are kept as written")
    func entities() {
        let page = convert("<p>a &amp; b &lt;c&gt; &quot;d&quot; &eacute;&#233;&#xE9;&#X1F600; &#146; &nbsp;|</p>")
        #expect(page.text == "a & b <c> \"d\" ééé😀 ’ \u{A0}|")
        let invalid = convert("<p>&bogus; &#xD800; &#0; &#x110000; &#99999999999; &amp &#; &#x; AT&T &</p>")
        #expect(invalid.text == "&bogus; &#xD800; &#0; &#x110000; &#99999999999; &amp &#; &#x; AT&T &")
    }

    @Test("100,000 nested <div>s (and lists, and unclosed tags) convert without deep recursion")
    func deepNesting() {
        let depth = 100_000
        let html = String(repeating: "<div>", count: depth) + "deep text" + String(repeating: "</div>", count: depth)
        #expect(convert(html).text == "deep text")
        let lists = String(repeating: "<ul><li>", count: depth) + "item"
        #expect(convert(lists).text == String(repeating: " ", count: 16) + "- item")
        let navs = String(repeating: "<nav>", count: depth) + "hidden" + String(repeating: "</nav>", count: depth) + "<p>shown</p>"
        #expect(convert(navs).text == "shown")
    }

    @Test("malformed markup never traps: unclosed comment, tag, quote or script at the end; stray '<' and '>'")
    func malformed() {
        #expect(convert("<p>a < b > c</p>").text == "a < b > c")
        #expect(convert("<p>before<!-- never closed <p>x</p>").text == "before")
        #expect(convert("<p>before<a href=\"x>y").text == "before")
        #expect(convert("<p>before</p><script>never closed").text == "before")
        #expect(convert("<p>q <a title='>'>quoted</a></p>").text == "q quoted")
        #expect(convert("</>< /p>&").text == "< /p>&")
        for text in ["<", "&", "<!", "<!-", "<!--", "</", "</a", "<a", "<a b='", "&#", "&#x", "&am", "<title>", "<pre>"] {
            _ = convert(text)  // no trap
        }
    }
}
