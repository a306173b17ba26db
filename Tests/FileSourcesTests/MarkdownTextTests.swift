import Foundation
import Testing

@testable import FileSources

@Suite("Markdown to text")
struct MarkdownTextTests {
    func convert(_ markdown: String) -> MarkdownText { MarkdownText.convert(Array(markdown.utf8)) }

    @Test("headings lose their #s and stand alone; the title is the first level-1 heading, else the first heading")
    func headingsAndTitle() {
        let doc = convert(
            """
            ## Overview ##
            Intro text.

            # Reset your *password*
            Setext heading
            --------------
            Body.
            """)
        #expect(doc.title == "Reset your password")
        #expect(doc.text == "Overview\n\nIntro text.\n\nReset your password\n\nSetext heading\n\nBody.", "\(doc.text)")
        #expect(convert("Title\n=====\n\ntext").title == "Title")
        #expect(convert("### Only h3\ntext").title == "Only h3")
        #expect(convert("#hashtag is not a heading").title == nil)
    }

    @Test("inline syntax: links keep their text, images are dropped, emphasis and code markers go, escapes decode")
    func inline() {
        let doc = convert(
            """
            See [the *guide*](https://example.com/a_(b) "Title") and ![logo](logo.png) [ref link][r1].
            Use `a_b*c` or ``x ` y``; **bold**, __strong__, _em_, ~~gone~~ ~5 min, 2 * 3 * 4, snake_case_name.
            An autolink <https://example.com/x>, mail <help@example.com>, <span class="k">inline</span> tag,
            line one<br>line two, \\*not emphasis\\*, AT&amp;T &copy; [unclosed (x and [text] alone.

            [r1]: https://example.com/ref
            """)
        #expect(
            doc.text == """
                See the guide and  ref link. Use a_b*c or x ` y; bold, strong, em, gone ~5 min, 2 * 3 * 4, snake_case_name. \
                An autolink https://example.com/x, mail help@example.com, inline tag, line one
                line two, *not emphasis*, AT&T © [unclosed (x and [text] alone.
                """, "\(doc.text)")
    }

    @Test("lists one item a line, tables one row a line, code verbatim, quotes unquoted, HTML blocks converted")
    func blocks() {
        let doc = convert(
            """
            Steps:

            - First *step*
            - Second step
              continues here
              - nested
            1. ordered
            2) second

            | Plan | Price |
            |------|------:|
            | Basic | $5 \\| month |
            | **Pro** | $10 |

            ```swift
            let x = [a](b) * 2
            ```

                indented code *kept*

            > Quoted **text**
            > > nested quote
            ***
            <div class="note">
            <p>Note &amp; <b>HTML</b></p>
            </div>

            <script>
            alert("x")
            </script>
            <!-- a comment -->
            End.
            """)
        #expect(
            doc.text == """
                Steps:

                - First step
                - Second step continues here
                  - nested
                1. ordered
                2. second

                Plan | Price
                Basic | $5 | month
                Pro | $10

                let x = [a](b) * 2

                indented code *kept*

                Quoted text

                nested quote

                Note & HTML

                End.
                """, "\(doc.text)")
    }

    @Test("an unclosed fence runs to the end; tildes fence too; CRLF line ends")
    func fencesAndLineEnds() {
        #expect(convert("text\r\n~~~\r\ncode ``` here\r\n").text == "text\n\ncode ``` here")
        #expect(convert("````\n```\nstill code\n````\nafter").text == "```\nstill code\n\nafter")
    }

    @Test("hostile Markdown stays linear and never traps: long runs of openers, brackets, backticks and quotes")
    func hostile() {
        let n = 200_000
        for text in [
            String(repeating: "[", count: n), String(repeating: "![", count: n), String(repeating: "`", count: n),
            String(repeating: "` ``", count: n / 4), String(repeating: "*a", count: n), String(repeating: "<a ", count: n / 3),
            String(repeating: ">", count: n), String(repeating: "- ", count: n / 2), String(repeating: "[a](", count: n / 4),
            String(repeating: "|", count: n) + "\n|-|\n", String(repeating: "<!--", count: n / 4), String(repeating: "&#", count: n / 2),
            String(repeating: "\n", count: n), String(repeating: "#", count: n), String(repeating: "    x\n", count: n / 6),
        ] {
            let started = Date()
            _ = convert(text)
            #expect(Date().timeIntervalSince(started) < 5, "slow on \(text.prefix(8))…")
        }
    }
}
