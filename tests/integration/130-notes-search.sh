#!/bin/bash
# notes/ xattrs (user.hub.shared, user.xdg.tags, generated user.hub.*, other user.* stored)
# and search as a directory: `ls notes/.search/QUERY/` lists matching notes best first as
# symlinks to them; FTS5 syntax (prefix, column, OR, phrase), punctuation quoted safely,
# titles and tags searched, the index following saves, renames, tag changes and deletes.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
hub_mount -o node_name=search-a
N=$MNT/notes
S=$N/.search

# ---- xattrs -------------------------------------------------------------------------------
echo 'a note with attributes' >"$N/x.md"
getfattr -d "$N/x.md" 2>/dev/null | grep -v '^#' | sed 's/=.*//' | grep . | sort >"$T/names"
assert_eq "$(tr '\n' ' ' <"$T/names")" "user.hub.contributors user.hub.created user.hub.id user.hub.shared user.hub.updated user.hub.version user.xdg.tags " "getfattr -d names"
assert_eq "$(xattr user.hub.version "$N/x.md")" 1 "user.hub.version"
assert_eq "$(xattr user.hub.contributors "$N/x.md")" "$(id -un)@search-a" "user.hub.contributors"
for k in created updated; do
	[[ $(xattr user.hub.$k "$N/x.md") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z$ ]] || fail "user.hub.$k: $(xattr user.hub.$k "$N/x.md")"
done
[[ $(xattr user.hub.id "$N/x.md") =~ ^[0-9a-f]{32}$ ]] || fail "user.hub.id"
# shared: new notes are private by default (notes_default=private); 0/1 settable
assert_eq "$(xattr user.hub.shared "$N/x.md")" 0 "a new note is private"
setfattr -n user.hub.shared -v 1 "$N/x.md" || fail "set shared 1"
assert_eq "$(xattr user.hub.shared "$N/x.md")" 1 "shared after setting 1"
setfattr -n user.hub.shared -v 1 "$N/x.md" || fail "set shared 1 twice"
setfattr -n user.hub.shared -v 0 "$N/x.md" || fail "set shared 0"
assert_eq "$(xattr user.hub.shared "$N/x.md")" 0 "shared after setting 0"
for bad in 2 yes true 01 '' ' 1' '1 '; do
	expect_fail "Invalid argument" setfattr -n user.hub.shared -v "$bad" "$N/x.md"
done
assert_eq "$(xattr user.hub.shared "$N/x.md")" 0 "shared after bad values"
# tags: comma-separated, trimmed, lower-cased, deduplicated, sorted
setfattr -n user.xdg.tags -v ' Work, budget ,work' "$N/x.md" || fail "set tags"
assert_eq "$(xattr user.xdg.tags "$N/x.md")" "budget,work" "tags normalised"
setfattr -n user.xdg.tags -v 'Ünï,a.b/c:d,x_y-z,,' "$N/x.md" || fail "set tags with punctuation"
assert_eq "$(xattr user.xdg.tags "$N/x.md")" "a.b/c:d,x_y-z,Ünï" "tags with allowed punctuation and UTF-8"
for bad in 'two words' 'semi;colon' 'quote"d' "$(printf 't%.0s' $(seq 65))"; do
	expect_fail "Invalid argument" setfattr -n user.xdg.tags -v "$bad" "$N/x.md"
done
assert_eq "$(xattr user.xdg.tags "$N/x.md")" "a.b/c:d,x_y-z,Ünï" "tags after bad values"
setfattr -x user.xdg.tags "$N/x.md" || fail "remove tags"
assert_eq "$(xattr user.xdg.tags "$N/x.md")" "" "tags removed"
# generated user.hub.* names cannot be set to anything else; unknown user.hub.* is EINVAL
expect_fail "Invalid argument" setfattr -n user.hub.foo -v 1 "$N/x.md"
expect_fail "Invalid argument" setfattr -n user.hub.version -v 7 "$N/x.md"
expect_fail "Invalid argument" setfattr -n user.hub.id -v 0123 "$N/x.md"
expect_fail "Invalid argument" setfattr -x user.hub.version "$N/x.md"
[ -z "$(xattr user.hub.foo "$N/x.md")" ] || fail "user.hub.foo stored"
assert_eq "$(xattr user.hub.version "$N/x.md")" 1 "user.hub.version after refusals"
# other user.* xattrs are stored, listed, removable, and follow saves and renames
setfattr -n user.color -v red "$N/x.md" || fail "set user.color"
assert_eq "$(xattr user.color "$N/x.md")" red "user.color"
getfattr -d "$N/x.md" 2>/dev/null | grep -qx 'user.color="red"' || fail "getfattr -d does not list user.color: $(getfattr -d "$N/x.md" 2>&1)"
setfattr -n user.hub.shared -v 1 "$N/x.md"
setfattr -n user.xdg.tags -v keep "$N/x.md"
echo 'more' >>"$N/x.md"
sed -i 's/more/MORE/' "$N/x.md"
mv "$N/x.md" "$N/y.md"
assert_eq "$(xattr user.color "$N/y.md")" red "user.color after a save, sed -i and a rename"
assert_eq "$(xattr user.hub.shared "$N/y.md")" 1 "shared after a save, sed -i and a rename"
assert_eq "$(xattr user.xdg.tags "$N/y.md")" keep "tags after a save, sed -i and a rename"
assert_eq "$(xattr user.hub.version "$N/y.md")" 3 "versions after a save, sed -i and a rename"
setfattr -x user.color "$N/y.md" || fail "remove user.color"
[ -z "$(xattr user.color "$N/y.md")" ] || fail "user.color still there"
expect_fail "No such attribute" getfattr -n user.color "$N/y.md"
rm "$N/y.md"

# ---- search -------------------------------------------------------------------------------
mk() { printf '%s\n' "$2" >"$N/$1" || fail "cannot write $1"; }
mk budget.md 'Budget 2024: the budget is tight; budget for rent, budget for food, budget review.'
mk plan.md 'Project plan for the spring. Milestones, people, a timeline, risks, and the budgeting of the second phase, which we will discuss at length later on.'
mk shopping.md 'buy milk and eggs after work'
mk release.md 'Release notes for v2.1 with many fixes'
mk sync.md 'a sync-conflict happened here'
mk phrase.md 'the quick brown fox jumps'
mk other.md 'brown and quick fox'
mk roadmap.md 'where we go next'
mkdir "$N/folder"
mk folder/deep.md 'a budget in a drawer'
setfattr -n user.xdg.tags -v work,money "$N/budget.md"
setfattr -n user.xdg.tags -v work "$N/plan.md"
setfattr -n user.xdg.tags -v home "$N/shopping.md"

# results QUERY: the note paths listed for QUERY, in order, '∕' turned back into '/'
results() {
	local q=$1 names
	names=$(ls "$S/$q/") || fail "ls .search/$q/ failed"
	[ -z "$names" ] && return 0
	local i=0 name
	while IFS= read -r name; do
		i=$((i + 1))
		[[ $name =~ ^([0-9]+)-(.+)$ ]] || fail "search entry '$name' for '$q' is not NNN-path"
		[ "$((10#${BASH_REMATCH[1]}))" = "$i" ] || fail "search entry '$name' for '$q' is not numbered $i"
		printf '%s\n' "${BASH_REMATCH[2]//∕//}"
	done <<<"$names" | tr '\n' ' ' | sed 's/ $//'
}
# sorted_results QUERY: the same, sorted (for queries whose order is not the point)
sorted_results() { results "$1" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//'; }

assert_eq "$(results milk)" "shopping.md" "plain word"
assert_eq "$(results MILK)" "shopping.md" "case-insensitive"
assert_eq "$(results nothingmatches)" "" "no match"
# best first: the note that is about the budget ranks above the ones that mention it once
r=$(results budget)
assert_eq "$(echo "$r" | tr ' ' '\n' | sort | tr '\n' ' ')" "budget.md folder/deep.md plan.md " "budget (stemmed: budgeting)"
assert_eq "${r%% *}" "budget.md" "best first for budget (got: $r)"
r=$(results 'budg*')
assert_eq "$(echo "$r" | tr ' ' '\n' | sort | tr '\n' ' ')" "budget.md folder/deep.md plan.md " "prefix budg*"
assert_eq "${r%% *}" "budget.md" "best first for budg* (got: $r)"
# tags: the column, not the word "work" in shopping.md's text
assert_eq "$(sorted_results 'tags:work')" "budget.md plan.md" "tags:work"
assert_eq "$(sorted_results work)" "budget.md plan.md shopping.md" "work anywhere (tags and content)"
assert_eq "$(sorted_results 'tags:work budg*')" "budget.md plan.md" "tags:work budg*"
assert_eq "$(sorted_results 'milk OR fox')" "other.md phrase.md shopping.md" "OR"
assert_eq "$(sorted_results 'quick fox')" "other.md phrase.md" "implicit AND"
assert_eq "$(results '"quick brown"')" "phrase.md" "exact phrase (the quotes in the directory name)"
assert_eq "$(results '"brown quick"')" "" "exact phrase, other order"
assert_eq "$(sorted_results 'fox NOT jumps')" "other.md" "NOT"
# punctuation is quoted instead of failing
assert_eq "$(results 'v2.1')" "release.md" "v2.1"
assert_eq "$(results 'sync-conflict')" "sync.md" "sync-conflict"
for q in '(' '"' 'a AND' 'OR' '*' 'NEAR(' "it's" "milk's" 'C++' '#tag' '$(x)' ':' '-' 'budget:' 'x:y' '^'; do
	ls "$S/$q/" >/dev/null || fail "search for '$q' failed instead of returning nothing or matches"
done
# the title (path) is searched: roadmap is only in the name
assert_eq "$(results roadmap)" "roadmap.md" "title"
# a note in a folder: '/' shows as U+2215, the link resolves into the folder
assert_eq "$(ls "$S/folder/")" "001-folder∕deep.md" "folder result name"

# ---- results are symlinks to the notes -------------------------------------------------------
check_links() { # QUERY
	local q=$1 name path
	for name in $(ls "$S/$q/"); do
		path=${name#*-}
		path=${path//∕//}
		[ -L "$S/$q/$name" ] || fail "$q/$name is not a symlink"
		assert_eq "$(readlink "$S/$q/$name")" "../../$path" "readlink $q/$name"
		assert_eq "$(readlink -f "$S/$q/$name")" "$(readlink -f "$N/$path")" "readlink -f $q/$name"
		cmp "$S/$q/$name" "$N/$path" || fail "cat through $q/$name"
	done
}
for q in budget 'budg*' 'tags:work' 'milk OR fox' '"quick brown"' v2.1 sync-conflict roadmap; do
	check_links "$q"
done
# a name not listed is not there
[ ! -L "$S/milk/002-budget.md" ] || fail "an unlisted search entry exists"
[ ! -L "$S/milk/bogus" ] || fail "a bogus search entry exists"
expect_fail "" readlink "$S/milk/001-budget.md"
# writing through a result link writes the note (it is the note)
echo 'via the link' >>"$S/milk/001-shopping.md"
assert_eq "$(tail -1 "$N/shopping.md")" "via the link" "write through a search link"
assert_eq "$(xattr user.hub.version "$N/shopping.md")" 2 "a write through a link is a version"
# search folders are read-only
expect_fail "" touch "$S/milk/new"
expect_fail "" rm "$S/milk/001-shopping.md"
expect_fail "" mkdir "$S/x/y"
[ -f "$N/shopping.md" ] || fail "rm in .search removed the note"

# ---- the index follows changes ----------------------------------------------------------------
# an entry's name says which note it is: when the results change, it never points elsewhere
before=$(ls "$S/fox/")
mk other.md 'brown and quick hound'
assert_eq "$(results fox)" "phrase.md" "fox after other.md changed"
for name in $before; do
	path=${name#*-}
	if t=$(readlink "$S/fox/$name" 2>/dev/null); then
		assert_eq "$t" "../../$path" "a stale entry $name resolves to another note"
	fi
done
assert_eq "$(results hound)" "other.md" "new content searched"
sed -i 's/milk/oat milk/' "$N/shopping.md"
assert_eq "$(results oat)" "shopping.md" "after sed -i"
mv "$N/roadmap.md" "$N/directions.md"
assert_eq "$(results roadmap)" "" "old title after a rename"
assert_eq "$(results directions)" "directions.md" "new title after a rename"
assert_eq "$(results 'we go next')" "directions.md" "content after a rename"
setfattr -n user.xdg.tags -v home "$N/plan.md"
assert_eq "$(sorted_results 'tags:work')" "budget.md" "tags:work after a tag change"
assert_eq "$(sorted_results 'tags:home')" "plan.md shopping.md" "tags:home after a tag change"
mv "$N/folder" "$N/box"
assert_eq "$(ls "$S/folder/")" "" "old folder title after a folder rename"
assert_eq "$(ls "$S/box/")" "001-box∕deep.md" "new folder title after a folder rename"
check_links box
rm "$N/budget.md"
r=$(results budget)
assert_eq "$(echo "$r" | tr ' ' '\n' | sort | tr '\n' ' ')" "box/deep.md plan.md " "budget after a delete"
assert_eq "$(results money)" "" "a deleted note's tags"
# a remount keeps the index
hub_umount
hub_mount -o node_name=search-a
assert_eq "$(results hound)" "other.md" "search after a remount"
assert_eq "$(sorted_results 'tags:home')" "plan.md shopping.md" "tags after a remount"
check_links hound
hub_umount
