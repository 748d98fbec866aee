package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	sv "github.com/childslot/supervisor"
)

// tree serves the tree's record, encoded once per snapshot (compact, and
// compressed for a client that accepts gzip).
func (h *handler) tree(w http.ResponseWriter, r *http.Request) {
	enc := h.encodedTree()
	if enc == nil {
		writeError(w, http.StatusServiceUnavailable, noSnapshot)
		return
	}
	writeBody(w, r, http.StatusOK, jsonType, enc.raw, enc.gz)
}

// member serves one member of the tree by its path: /tree/app/db is
// /app/db. The answer is always a MemberRecord, the root's too, so that a
// client reads one shape; an empty path is the whole tree, as /tree.
func (h *handler) member(w http.ResponseWriter, r *http.Request) {
	enc := h.encodedTree()
	if enc == nil {
		writeError(w, http.StatusServiceUnavailable, noSnapshot)
		return
	}
	snap := enc.snap
	p := r.PathValue("path")
	if p == "" {
		writeBody(w, r, http.StatusOK, jsonType, enc.raw, enc.gz)
		return
	}
	m, ok := findMember(snap, "/"+p)
	if !ok {
		writeError(w, http.StatusNotFound, "no member "+"/"+p+" in tree "+snap.Path)
		return
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the member: "+err.Error())
		return
	}
	writeBody(w, r, http.StatusOK, jsonType, append(b, '\n'), nil)
}

// findMember returns the member at path in the tree of root, the root
// itself as a member.
func findMember(root *sv.GroupRecord, path string) (sv.MemberRecord, bool) {
	rest, ok := strings.CutPrefix(path, root.Path)
	if !ok || rest != "" && rest[0] != '/' {
		return sv.MemberRecord{}, false
	}
	cur := sv.MemberRecord{ID: root.GroupID, Group: root}
	rest = strings.TrimPrefix(rest, "/")
	for rest != "" {
		var id string
		id, rest, _ = strings.Cut(rest, "/")
		if cur.Group == nil {
			return sv.MemberRecord{}, false // a slot has no members
		}
		i := slices.IndexFunc(cur.Group.Members, func(m sv.MemberRecord) bool { return m.ID == id })
		if i < 0 {
			return sv.MemberRecord{}, false
		}
		cur = cur.Group.Members[i]
	}
	return cur, true
}
