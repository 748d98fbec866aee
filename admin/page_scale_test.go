package admin

import (
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var rowRE = regexp.MustCompile(`<div class="row [^"]*" role="row" data-path="([^"]+)" data-state="([a-z]+)"`)

// pageRowsOf returns the paths of the table's rows in a page.
func pageRowsOf(body string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestPageAtScale: at 10,000 members the page holds what a person reads
// (one page of rows, the first members needing attention), weighs well
// under the budget compressed, and narrows by search, state, page and
// folded groups, all from its address. It logs the answers' sizes.
func TestPageAtScale(t *testing.T) {
	g := scaleTree(t)
	h := New(g, Options{})
	get := func(target string) (string, int) {
		w := do(h, "GET", target, "", "Accept-Encoding", "gzip")
		require.Equal(t, http.StatusOK, w.Code, target)
		n := w.Body.Len()
		if w.Header().Get("Content-Encoding") != "gzip" {
			return w.Body.String(), n
		}
		zr, err := gzip.NewReader(w.Body)
		require.NoError(t, err)
		b, err := io.ReadAll(zr)
		require.NoError(t, err)
		return string(b), n
	}
	tree, treeGz := get("/tree")
	page, pageGz := get("/")
	frag, fragGz := get("/?fragment=app")
	began := time.Now()
	_, _ = get("/?fragment=app")
	took := time.Since(began)
	t.Logf("10,000 members: /tree %d bytes, %d gzipped; / %d, %d gzipped; fragment %d, %d gzipped, rendered in %v",
		len(tree), treeGz, len(page), pageGz, len(frag), fragGz, took)
	assert.LessOrEqual(t, fragGz, 100_000, "a refresh's answer is within the budget")
	assert.Len(t, pageRowsOf(frag), pageRows)
	assert.Equal(t, 10, strings.Count(frag[strings.Index(frag, `id="not-ready"`):strings.Index(frag, `id="events"`)], "<li>"),
		"the summary lists the first ten members needing attention")
	has(t, frag, `and 4 more: <a href="?state=attention">show all</a>`)
	has(t, frag, "rows 1–50 of 10101")
	has(t, frag, `href="?page=2" id="next"`)
	hasNot(t, frag, `id="prev"`)
	hasNot(t, frag, "cancelled: cancelled", "no word twice")

	// Search, any case, by a part of the path.
	body, _ := get("/?q=G42/M424")
	assert.Equal(t, []string{"/app/g42/m4240", "/app/g42/m4241", "/app/g42/m4242", "/app/g42/m4243", "/app/g42/m4244",
		"/app/g42/m4245", "/app/g42/m4246", "/app/g42/m4247", "/app/g42/m4248", "/app/g42/m4249"}, pageRowsOf(body))
	// State: the rows of that state only; attention: what keeps the tree
	// from being ready (not the background members).
	body, _ = get("/?state=quarantined")
	assert.Equal(t, []string{"/app/g0/m3", "/app/g25/m2503", "/app/g50/m5003", "/app/g75/m7503"}, pageRowsOf(body))
	body, _ = get("/?state=attention")
	assert.Len(t, pageRowsOf(body), 14)
	hasNot(t, body, `data-path="/app/g0/m42"`)
	// Paging, and a page past the end gives the last.
	body, _ = get("/?page=2")
	rows := pageRowsOf(body)
	require.Len(t, rows, pageRows)
	assert.Equal(t, "/app/g0/m48", rows[0])
	has(t, body, `href="?" id="prev"`)
	body, _ = get("/?page=999")
	has(t, body, "rows 10101–10101 of 10101")
	// A folded group hides its members, not itself.
	body, _ = get("/?collapsed=%2Fapp%2Fg0%2C%2Fapp%2Fg1")
	assert.Equal(t, []string{"/app", "/app/g0", "/app/g1", "/app/g2", "/app/g2/m200"}, pageRowsOf(body)[:5])
	has(t, body, `data-fold="/app/g0" aria-expanded="false">+</button>`)
	// Hostile queries are bounded and escaped.
	body, _ = get("/?q=" + strings.Repeat("%3Cscript%3E", 100) + "&state=%3Cx%3E&page=-3")
	hasNot(t, body, "<script>")
	has(t, body, "no row matches")
}
