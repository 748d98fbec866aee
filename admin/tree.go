package admin

import (
	"net/http"
	"slices"
	"strings"

	sv "github.com/childslot/supervisor"
)

func (h *handler) tree(w http.ResponseWriter, _ *http.Request) {
	snap := h.snapshot()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, noSnapshot)
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

// member serves one member of the tree by its path: /tree/app/db is
// /app/db. The answer is always a MemberRecord, the root's too, so that a
// client reads one shape; an empty path is the whole tree, as /tree.
func (h *handler) member(w http.ResponseWriter, r *http.Request) {
	snap := h.snapshot()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, noSnapshot)
		return
	}
	p := r.PathValue("path")
	if p == "" {
		writeJSON(w, http.StatusOK, snap)
		return
	}
	m, ok := findMember(snap, "/"+p)
	if !ok {
		writeError(w, http.StatusNotFound, "no member "+"/"+p+" in tree "+snap.Path)
		return
	}
	writeJSON(w, http.StatusOK, m)
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
