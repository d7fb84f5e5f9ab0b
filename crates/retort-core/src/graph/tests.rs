//! Conformance vectors ported from Alembic's own tests (`tests/test_revision.py` and its kin).

use super::*;

/// `x←y` is `("x", &["y"])`; list order is load order.
fn map(decls: Vec<RevisionDecl>) -> RevisionMap {
    RevisionMap::build(decls).expect("valid graph")
}

fn r(id: &str, down: &[&str]) -> RevisionDecl {
    RevisionDecl::new(id, down)
}

fn ids(m: &RevisionMap, idxs: Vec<Idx>) -> Vec<String> {
    m.ids(&idxs)
}

fn one(s: &str) -> RevArg {
    RevArg::one(s)
}

fn many(v: &[&str]) -> RevArg {
    RevArg::many(v)
}

/// `_assert_iteration` with its defaults: inclusive, no implicit base.
fn iter(m: &RevisionMap, upper: RevArg, lower: RevArg) -> Vec<String> {
    iter_with(
        m,
        upper,
        lower,
        IterateOptions {
            inclusive: true,
            ..IterateOptions::default()
        },
    )
}

fn iter_with(
    m: &RevisionMap,
    upper: RevArg,
    lower: RevArg,
    options: IterateOptions,
) -> Vec<String> {
    ids(
        m,
        m.iterate_revisions(&upper, &lower, options)
            .expect("iteration"),
    )
}

fn iter_err(m: &RevisionMap, upper: RevArg, lower: RevArg, options: IterateOptions) -> String {
    m.iterate_revisions(&upper, &lower, options)
        .expect_err("should fail")
        .to_string()
}

fn down_iter(m: &RevisionMap, upper: RevArg, lower: RevArg, inclusive: bool) -> Vec<String> {
    iter_with(
        m,
        upper,
        lower,
        IterateOptions {
            inclusive,
            select_for_downgrade: true,
            ..IterateOptions::default()
        },
    )
}

fn up(m: &RevisionMap, dest: &str, current: &[&str]) -> Vec<String> {
    let current: Vec<String> = current.iter().map(|s| s.to_string()).collect();
    ids(
        m,
        m.upgrade_steps(&one(dest), &current)
            .expect("upgrade steps"),
    )
}

fn up_err(m: &RevisionMap, dest: &str, current: &[&str]) -> String {
    let current: Vec<String> = current.iter().map(|s| s.to_string()).collect();
    m.upgrade_steps(&one(dest), &current)
        .expect_err("should fail")
        .to_string()
}

fn down(m: &RevisionMap, dest: &str, current: &[&str]) -> Vec<String> {
    let current: Vec<String> = current.iter().map(|s| s.to_string()).collect();
    ids(
        m,
        m.downgrade_steps(&one(dest), &current)
            .expect("downgrade steps"),
    )
}

fn strs(v: &str) -> Vec<String> {
    v.split_whitespace().map(str::to_string).collect()
}

fn build_err(decls: Vec<RevisionDecl>) -> String {
    RevisionMap::build(decls)
        .expect_err("should fail")
        .to_string()
}

fn resolve(m: &RevisionMap, id: &str) -> String {
    m.rev(m.resolve_one(id).expect("resolves")).revision.clone()
}

fn resolve_err(m: &RevisionMap, id: &str) -> String {
    m.resolve_one(id).expect_err("should fail").to_string()
}

// 1. Diamond
/// Found by the property test: a merge naming a parent and that parent's own parent. Alembic
/// (checked with 1.20.1) downgrades it fine but its history walk fails an assertion.
#[test]
fn merge_with_an_ancestor_parent() {
    let m = RevisionMap::build(vec![
        RevisionDecl::new("r000x", &[]),
        RevisionDecl::new("r006x", &["r000x"]).labels(&["l6"]),
        RevisionDecl::new("r007x", &["r006x", "r000x"]),
        RevisionDecl::new("r008x", &["r006x", "r000x"]),
        RevisionDecl::new("r009x", &[]),
        RevisionDecl::new("r014x", &["r009x"]).depends_on(&["r007x"]),
    ])
    .unwrap();
    let heads = m.ids(m.heads());
    let down = m.downgrade_steps(&RevArg::one("l6"), &heads).unwrap();
    assert_eq!(m.ids(&down), vec!["r014x", "r008x", "r007x"]);
    let err = m
        .iterate_revisions(
            &RevArg::one("heads"),
            &RevArg::one("l6"),
            IterateOptions {
                inclusive: true,
                assert_relative_length: false,
                ..IterateOptions::default()
            },
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("Cannot order the revisions"),
        "{err}"
    );
}

#[test]
fn diamond() {
    let m = map(vec![
        r("a", &[]),
        r("b1", &["a"]),
        r("b2", &["a"]),
        r("c", &["b1", "b2"]),
        r("d", &["c"]),
    ]);
    assert_eq!(iter(&m, one("d"), one("a")), strs("d c b1 b2 a"));
    assert_eq!(up(&m, "d", &[]), strs("a b2 b1 c d"));
    let m = map(vec![
        r("a", &[]),
        r("b1", &["a"]),
        r("b2", &["a"]),
        r("c", &["b2", "b1"]),
        r("d", &["c"]),
    ]);
    assert_eq!(iter(&m, one("d"), one("a")), strs("d c b2 b1 a"));
    assert_eq!(up(&m, "d", &[]), strs("a b1 b2 c d"));
}

// 2. LongShort
#[test]
fn long_short() {
    let m = map(vec![
        r("a", &[]),
        r("b1", &["a"]),
        r("b2", &["a"]),
        r("c1", &["b1"]),
        r("d11", &["c1"]),
        r("d12", &["c1"]),
    ]);
    assert_eq!(ids(&m, m.heads().to_vec()), strs("b2 d11 d12"));
    assert_eq!(
        iter(&m, one("heads"), one("base")),
        strs("b2 d11 d12 c1 b1 a")
    );
    assert_eq!(up(&m, "heads", &[]), strs("a b1 c1 d12 d11 b2"));
}

// 3. MultipleBranch
#[test]
fn multiple_branch() {
    let m = map(vec![
        r("a", &[]),
        r("b1", &["a"]),
        r("b2", &["a"]),
        r("cb1", &["b1"]),
        r("cb2", &["b2"]),
        r("d1cb1", &["cb1"]),
        r("d2cb1", &["cb1"]),
        r("d1cb2", &["cb2"]),
        r("d2cb2", &["cb2"]),
        r("d3cb2", &["cb2"]),
        r("d1d2cb2", &["d1cb2", "d2cb2"]),
    ]);
    assert_eq!(
        iter(&m, one("d1d2cb2"), one("a")),
        strs("d1d2cb2 d1cb2 d2cb2 cb2 b2 a")
    );
    assert_eq!(
        iter(&m, many(&["d3cb2", "cb1"]), one("base")),
        strs("cb1 b1 d3cb2 cb2 b2 a")
    );
    assert_eq!(
        iter(&m, many(&["d1cb1", "d2cb2", "d3cb2"]), one("b2")),
        strs("d2cb2 d3cb2 cb2 b2")
    );
    let inclusive = IterateOptions {
        inclusive: true,
        ..IterateOptions::default()
    };
    assert_eq!(
        iter_err(&m, one("b1"), one("d1cb1"), inclusive),
        "Revision d1cb1 is not an ancestor of revision b1"
    );
    assert_eq!(
        iter_err(&m, one("d2cb2"), one("b1"), inclusive),
        "Revision b1 is not an ancestor of revision d2cb2"
    );
}

// 4. BranchTravelling
#[test]
fn branch_travelling() {
    let m = map(vec![
        r("a1", &[]),
        r("a2", &["a1"]),
        r("a3", &["a2"]),
        r("b1", &["a3"]),
        r("b2", &["a3"]),
        r("cb1", &["b1"]),
        r("cb2", &["b2"]),
        r("db1", &["cb1"]),
        r("db2", &["cb2"]),
        r("e1b1", &["db1"]),
        r("fe1b1", &["e1b1"]),
        r("e2b1", &["db1"]),
        r("e2b2", &["db2"]),
        r("merge", &["e2b1", "e2b2"]),
    ]);
    assert_eq!(
        iter(&m, one("merge"), one("a1")),
        strs("merge e2b1 db1 cb1 b1 e2b2 db2 cb2 b2 a3 a2 a1")
    );
    assert_eq!(
        iter(&m, many(&["merge", "fe1b1"]), one("a1")),
        strs("fe1b1 e1b1 merge e2b1 db1 cb1 b1 e2b2 db2 cb2 b2 a3 a2 a1")
    );
    assert_eq!(
        iter(&m, one("merge"), one("b1")),
        strs("merge e2b1 db1 cb1 b1")
    );
    assert_eq!(
        iter_with(
            &m,
            many(&["merge", "fe1b1"]),
            many(&["cb1", "cb2"]),
            IterateOptions::default()
        ),
        strs("fe1b1 e1b1 merge e2b1 db1 e2b2 db2")
    );
    assert_eq!(
        iter_err(
            &m,
            many(&["db1", "b2", "fe1b1"]),
            RevArg::Many(vec![]),
            IterateOptions::default()
        ),
        "Requested revision fe1b1 overlaps with other requested revisions db1"
    );
}

// 5. MultipleBase
#[test]
fn multiple_base() {
    let m = map(vec![
        r("base1", &[]),
        r("base2", &[]),
        r("base3", &[]),
        r("a1a", &["base1"]),
        r("a1b", &["base1"]),
        r("a2", &["base2"]),
        r("a3", &["base3"]),
        r("b1a", &["a1a"]),
        r("b1b", &["a1b"]),
        r("b2", &["a2"]),
        r("b3", &["a3"]),
        r("c2", &["b2"]),
        r("d2", &["c2"]),
        r("mergeb3d2", &["b3", "d2"]),
    ]);
    assert_eq!(ids(&m, m.heads().to_vec()), strs("b1a b1b mergeb3d2"));
    assert_eq!(
        iter(&m, one("heads"), one("base")),
        strs("b1a a1a b1b a1b base1 mergeb3d2 b3 a3 base3 d2 c2 b2 a2 base2")
    );
    assert_eq!(
        iter_with(&m, one("heads"), many(&["c2"]), IterateOptions::default()),
        strs("mergeb3d2 d2")
    );
}

fn cross_dependency_one() -> RevisionMap {
    map(vec![
        r("base1", &[]).labels(&["b_1"]),
        r("a1a", &["base1"]),
        r("a1b", &["base1"]),
        r("b1a", &["a1a"]),
        r("b1b", &["a1b"]).depends_on(&["a3"]),
        r("base2", &[]).labels(&["b_2"]),
        r("a2", &["base2"]),
        r("b2", &["a2"]),
        r("c2", &["b2"]).depends_on(&["a3"]),
        r("d2", &["c2"]),
        r("base3", &[]).labels(&["b_3"]),
        r("a3", &["base3"]),
        r("b3", &["a3"]),
    ])
}

// 6. CrossDependencyOne
#[test]
fn cross_dependency() {
    let m = cross_dependency_one();
    assert_eq!(ids(&m, m.heads().to_vec()), strs("b1a b1b d2 b3"));
    assert_eq!(
        iter(&m, one("heads"), one("base")),
        strs("b1a a1a b1b a1b base1 d2 c2 b2 a2 base2 b3 a3 base3")
    );
    assert_eq!(
        iter(&m, one("b_2@head"), one("base")),
        strs("d2 c2 b2 a2 base2 a3 base3")
    );
    assert_eq!(
        down_iter(&m, one("heads"), one("b_3@base"), true),
        strs("b1b d2 c2 b3 a3 base3")
    );
    assert_eq!(
        down_iter(&m, one("b_2@head"), one("b_2@base"), true),
        strs("d2 c2 b2 a2 base2")
    );
}

// 7. CrossDependencyThree
#[test]
fn cross_dependency_three() {
    let m = map(vec![
        r("base1", &[]),
        r("a1", &["base1"]),
        r("b1", &["a1"]),
        r("c2", &[]).depends_on(&["a1"]),
        r("c3", &["c2"]),
    ]);
    assert_eq!(
        iter(&m, one("heads"), one("base")),
        strs("b1 c3 c2 a1 base1")
    );
}

// 8. Effective head
#[test]
fn effective_head() {
    let m = map(vec![
        r("x1", &[]).labels(&["x"]),
        r("y1", &[]).labels(&["y"]),
        r("y2", &["y1"]).depends_on(&["x1"]),
    ]);
    assert_eq!(ids(&m, m.heads().to_vec()), strs("x1 y2"));
    assert_eq!(ids(&m, m.real_heads().to_vec()), strs("y2"));
    assert_eq!(up(&m, "heads", &[]), strs("x1 y1 y2"));
    let history =
        format::history_output(&m, &m.walk_revisions("base", "heads").unwrap(), false, None);
    assert_eq!(
        format::heads_output(&m, m.heads(), false),
        "x1 (x) (effective head)\ny2 (y) (head)\n"
    );
    assert!(
        history.ends_with("<base> -> x1 (x) (effective head), \n"),
        "{history}"
    );

    let m = map(vec![
        r("x1", &[]).labels(&["x"]),
        r("y1", &[]).labels(&["y"]),
        r("y2", &["y1"]).depends_on(&["x1"]),
        r("x2", &["x1"]),
    ]);
    assert_eq!(
        down_iter(&m, many(&["x2", "y2"]), one("x@-1"), false),
        strs("x2")
    );
    assert_eq!(
        down_iter(&m, many(&["x1", "y2"]), one("x@-1"), false),
        strs("y2 x1")
    );
}

// 9. NormalizedDownRev
#[test]
fn normalized_down_revisions() {
    let m = map(vec![
        r("a1", &[]),
        r("a2", &["a1"]),
        r("a3", &["a2"]),
        r("b1", &[]),
        r("b2", &["b1"]).depends_on(&["a3"]),
        r("b3", &["b2"]),
        r("b4", &["b3"]).depends_on(&["a3"]),
        r("b5", &["b4"]).depends_on(&["b4"]),
    ]);
    let b4 = m.rev(m.lookup("b4").unwrap());
    assert_eq!(b4.resolved_dependencies(), ["a3"]);
    assert!(b4.normalized_dependencies().is_empty());
    assert_eq!(m.ids(b4.normalized_parents()), ["b3"]);
    assert_eq!(
        m.ids(m.rev(m.lookup("b5").unwrap()).normalized_parents()),
        ["b4"]
    );
    assert_eq!(
        down_iter(&m, one("heads"), one("base"), true),
        strs("b5 b4 b3 b2 b1 a3 a2 a1")
    );
    assert_eq!(
        down_iter(&m, one("heads"), one("a2"), true),
        strs("b5 b4 b3 b2 a3 a2")
    );
}

fn labels_map() -> RevisionMap {
    map(vec![
        r("a", &[]).labels(&["abranch"]),
        r("b", &["a"]),
        r("somelongername", &["b"]),
        r("c", &["somelongername"]),
        r("d", &[]),
        r("e", &["d"]).labels(&["ebranch"]),
        r("someothername", &["e"]),
        r("f", &["someothername"]),
    ])
}

// 10. Labels
#[test]
fn branch_labels() {
    let m = labels_map();
    assert_eq!(resolve(&m, "abranch"), "a");
    assert_eq!(resolve(&m, "ebranch@head"), "f");
    assert_eq!(
        ids(
            &m,
            m.get_revisions(&one("abranch@heads"))
                .unwrap()
                .into_iter()
                .filter_map(Slot::rev)
                .collect()
        ),
        ["c"]
    );
    assert_eq!(resolve(&m, "ebranch@some"), "someothername");
    assert_eq!(resolve(&m, "e@d"), "d");
    assert_eq!(resolve(&m, "someoth@d"), "d");
    assert_eq!(resolve(&m, "ebranch@ebranch"), "e");
    assert_eq!(resolve(&m, "somel"), "somelongername");
    assert_eq!(
        resolve_err(&m, "some"),
        "Multiple revisions start with 'some': 'somelongername', 'someothername'..."
    );
    assert_eq!(resolve_err(&m, "x@d"), "No such branch: 'x'");
    assert_eq!(
        resolve_err(&m, "ebranch@b"),
        "Revision b is not a member of branch 'ebranch'"
    );
    assert_eq!(
        resolve_err(&m, "head"),
        "Multiple heads are present for given argument 'head'; c, f"
    );
    assert_eq!(
        resolve_err(&m, "qpr"),
        "No such revision or branch 'qpr'; please ensure at least four characters are present for partial revision identifier matches"
    );
    assert_eq!(
        iter(&m, one("heads"), one("ebranch@-2")),
        strs("f someothername e")
    );
    assert_eq!(iter(&m, one("ebranch@+2"), one("base")), strs("e d"));
    // the label covers the whole linear run: a's label reaches c, e's reaches d
    assert_eq!(m.rev(m.lookup("c").unwrap()).branch_labels, ["abranch"]);
    assert_eq!(m.rev(m.lookup("d").unwrap()).branch_labels, ["ebranch"]);
}

// 11. Cycles
#[test]
fn cycles() {
    assert_eq!(
        build_err(vec![r("a", &["c"]), r("b", &["a"]), r("c", &["b"])]),
        "Cycle is detected in revisions (a, b, c)"
    );
    assert_eq!(
        build_err(vec![
            r("a", &["c"]),
            r("b", &["a"]),
            r("c", &["b"]),
            r("d", &[]),
            r("e", &["d"])
        ]),
        "Cycle is detected in revisions (a, b, c)"
    );
    assert_eq!(
        build_err(vec![
            r("a", &[]),
            r("b", &["a"]),
            r("c", &["b", "d"]),
            r("d", &["c"])
        ]),
        "Cycle is detected in revisions (a, b, c, d)"
    );
    assert_eq!(
        build_err(vec![
            r("a", &[]),
            r("b", &["a"]),
            r("c", &["b", "e"]),
            r("d", &["c"]),
            r("e", &["d"])
        ]),
        "Cycle is detected in revisions (a, b, c, d, e)"
    );
    assert_eq!(
        build_err(vec![
            r("a", &[]).depends_on(&["c"]),
            r("b", &["a"]),
            r("c", &["b"])
        ]),
        "Dependency cycle is detected in revisions (a, b, c)"
    );
    assert_eq!(
        build_err(vec![r("a", &[]), r("b", &["a"]), r("c", &["b", "c"])]),
        "Self-loop is detected in revisions (c)"
    );
    assert_eq!(
        build_err(vec![
            r("a", &[]),
            r("b", &["a"]),
            r("c", &["b"]).depends_on(&["c"])
        ]),
        "Dependency self-loop is detected in revisions (c)"
    );
    assert_eq!(
        build_err(vec![
            r("a", &[]),
            r("b", &["a"]),
            r("c", &["b"]).labels(&["xy1"]),
            r("d", &[]),
            r("e", &["d"]).labels(&["xy1"]),
        ]),
        "Branch name 'xy1' in revision e already used by revision c"
    );
    assert!(
        build_err(vec![r("a", &[]), r("b", &["zz"])])
            .starts_with("Revision zz referenced from zz -> b (head), ")
    );
    assert_eq!(
        build_err(vec![r("no@atsigns-ordashes", &[])]),
        "Character(s) '-, @' not allowed in revision identifier 'no@atsigns-ordashes'"
    );
}

fn linear() -> RevisionMap {
    map(vec![
        r("a", &[]),
        r("b", &["a"]),
        r("c", &["b"]),
        r("d", &["c"]),
        r("e", &["d"]),
    ])
}

// 12. Linear
#[test]
fn linear_relative() {
    let m = linear();
    assert_eq!(up(&m, "+2", &["a"]), strs("b c"));
    assert_eq!(up(&m, "b+2", &["a"]), strs("b c d"));
    assert_eq!(up(&m, "d-2", &["a"]), strs("b"));
    assert_eq!(
        up_err(&m, "-2", &["b"]),
        "Relative revision -2 didn't produce 2 migrations"
    );
    assert_eq!(
        up_err(&m, "+5", &["b"]),
        "Relative revision +5 didn't produce 5 migrations"
    );
    assert_eq!(down(&m, "-1", &["c"]), strs("c"));
    assert_eq!(down(&m, "a+2", &["d"]), strs("d"));
    assert_eq!(down(&m, "c-2", &["d"]), strs("d c b"));
    // trailing text after the number is ignored, as in Alembic
    assert_eq!(up(&m, "b+1xyz", &["a"]), strs("b c"));
}

fn branched() -> RevisionMap {
    map(vec![
        r("a", &[]),
        r("b", &["a"]),
        r("c1", &["b"]).labels(&["c1branch"]),
        r("d1", &["c1"]),
        r("c2", &["b"]).labels(&["c2branch"]),
        r("d2", &["c2"]),
    ])
}

// 13. Branched
#[test]
fn branched_relative() {
    let m = branched();
    assert_eq!(
        ids(
            &m,
            m.upgrade_steps(&many(&["d1", "d2"]), &["a".to_string()])
                .unwrap()
        ),
        strs("b c2 d2 c1 d1")
    );
    assert_eq!(up(&m, "c2branch@head-1", &["b"]), strs("c2"));
    assert_eq!(up(&m, "c2branch@+1", &["c1", "c2"]), strs("d2"));
    assert_eq!(
        up_err(&m, "+1", &["c1", "c2"]),
        "Ambiguous upgrade from multiple current revisions"
    );
    assert_eq!(down(&m, "a", &["d1", "d2"]), strs("d1 c1 d2 c2 b"));
    assert_eq!(down(&m, "c2branch@base+2", &["d2", "d1"]), strs("d2 c2"));
    assert_eq!(down(&m, "-1", &["d2", "d1"]), strs("d2"));
    assert_eq!(down(&m, "-1", &["d1", "d2"]), strs("d1"));
    assert_eq!(down(&m, "c2branch@b", &["c1", "d2"]), strs("d2 c2"));
    assert_eq!(down(&m, "d1@b", &["d1", "d2"]), strs("d1 c1"));
}

// 14. NotQuiteTwin (step order; the version-table rows are the execution layer's)
#[test]
fn not_quite_twin_order() {
    let m = map(vec![
        r("a", &[]),
        r("b1", &["a"]),
        r("b2", &["a"]),
        r("b3", &["a"]),
        r("c1", &["b1", "b2"]),
        r("c2", &["b2", "b3"]),
        r("d1", &["c1"]),
        r("d2", &["c2"]),
    ]);
    assert_eq!(up(&m, "heads", &["a"]), strs("b2 b3 c2 d2 b1 c1 d1"));
    assert_eq!(down(&m, "a", &["d1", "d2"]), strs("d1 c1 b1 d2 c2 b3 b2"));
}

// 15. TwinMerge
#[test]
fn twin_merge_order() {
    let m = map(vec![
        r("a", &[]),
        r("b1", &["a"]),
        r("b2", &["a"]),
        r("b3", &["a"]),
        r("c1", &["b1", "b2", "b3"]),
        r("c2", &["b1", "b2", "b3"]),
        r("d1", &["c1"]),
        r("d2", &["c2"]),
    ]);
    assert_eq!(up(&m, "heads", &["a"]), strs("b3 b2 b1 c2 d2 c1 d1"));
}

// 16. Dependency implications
#[test]
fn dependency_implications() {
    let m = map(vec![
        r("a1", &[]),
        r("b1", &[]).depends_on(&["a1"]),
        r("bmerge", &["a1", "b1"]),
    ]);
    assert_eq!(up(&m, "heads", &[]), strs("a1 b1 bmerge"));

    let m = map(vec![
        r("a1", &[]),
        r("a2", &["a1"]),
        r("b1", &[]),
        r("b2", &["b1"]).depends_on(&["a2"]),
        r("b3", &["b2"]),
        r("a3", &["a2"]).depends_on(&["b1"]),
    ]);
    assert_eq!(down(&m, "b1", &["a3", "b2"]), strs("b2"));
}

// The graph of a live alembic 1.20.1 session, checked against its output.
fn live_graph() -> RevisionMap {
    map(vec![
        r("1000aaaaaaaa", &[]),
        r("2000bbbbbbbb", &["1000aaaaaaaa"]),
        r("3000cccc0002", &["2000bbbbbbbb"]),
        r("4000dddddddd", &["3000cccc0002", "9000cccc0001"]),
        r("5000eeeeeeee", &["4000dddddddd"]),
        r("9000cccc0001", &["2000bbbbbbbb"]),
    ])
}

#[test]
fn live_upgrade_order_and_history() {
    let m = live_graph();
    assert_eq!(
        up(&m, "head", &[]),
        strs("1000aaaaaaaa 2000bbbbbbbb 9000cccc0001 3000cccc0002 4000dddddddd 5000eeeeeeee")
    );
    assert_eq!(resolve(&m, "1"), "1000aaaaaaaa");
    assert_eq!(resolve(&m, "4"), "4000dddddddd");
    assert_eq!(
        m.walk_revisions("9000cccc0001", "3000cccc0002")
            .unwrap_err()
            .to_string(),
        "Revision 9000cccc0001 is not an ancestor of revision 3000cccc0002"
    );
    assert_eq!(
        up(&m, "head", &["9000cccc0001", "3000cccc0002"]),
        strs("4000dddddddd 5000eeeeeeee")
    );
    assert_eq!(
        down(&m, "2000bbbbbbbb", &["5000eeeeeeee"]),
        strs("5000eeeeeeee 4000dddddddd 3000cccc0002 9000cccc0001")
    );
}

#[test]
fn relative_grammar() {
    assert_eq!(
        Relative::parse("ebranch@-2"),
        Some(Relative {
            branch_label: Some("ebranch".into()),
            symbol: None,
            relative: "-2".into(),
            steps: -2
        })
    );
    assert_eq!(
        Relative::parse("a@b@c+1"),
        Some(Relative {
            branch_label: Some("a@b".into()),
            symbol: Some("c".into()),
            relative: "+1".into(),
            steps: 1
        })
    );
    assert_eq!(Relative::parse("heads").map(|r| r.steps), None);
    assert_eq!(
        Relative::parse("1000+1xyz").map(|r| (r.symbol, r.steps)),
        Some((Some("1000".into()), 1))
    );
    assert_eq!(
        Relative::parse("-99999999999999999999999").map(|r| r.steps < 0),
        Some(true)
    );
}

#[test]
fn empty_map() {
    let m = map(vec![]);
    assert!(m.heads().is_empty());
    assert!(m.walk_revisions("base", "heads").unwrap().is_empty());
    assert_eq!(resolve_err(&m, "abcd"), "No such revision or branch 'abcd'");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Ids from a small alphabet so that references, prefixes, labels and clashes are common;
    /// '@', '-', '+' and ':' appear too, which the builder must reject cleanly.
    fn ident() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ab1@+:-]{0,5}").unwrap()
    }

    fn decl() -> impl Strategy<Value = RevisionDecl> {
        (
            ident(),
            proptest::collection::vec(ident(), 0..3),
            proptest::collection::vec(ident(), 0..2),
            proptest::collection::vec(ident(), 0..2),
        )
            .prop_map(|(revision, down_revision, depends_on, branch_labels)| {
                RevisionDecl {
                    revision,
                    down_revision,
                    depends_on,
                    branch_labels,
                    ..RevisionDecl::default()
                }
            })
    }

    /// Acyclic graphs that always build: each revision points only at earlier ones.
    fn dag() -> impl Strategy<Value = Vec<RevisionDecl>> {
        proptest::collection::vec(
            (any::<u16>(), any::<u16>(), any::<u8>(), any::<bool>()),
            1..25,
        )
        .prop_map(|spec| {
            let mut decls: Vec<RevisionDecl> = Vec::new();
            for (k, (p1, p2, kind, label)) in spec.into_iter().enumerate() {
                let id = format!("r{k:03}x");
                let mut down = Vec::new();
                if k > 0 && kind % 5 != 0 {
                    down.push(decls[p1 as usize % k].revision.clone());
                    if kind % 4 == 1 {
                        let other = decls[p2 as usize % k].revision.clone();
                        if !down.contains(&other) {
                            down.push(other);
                        }
                    }
                }
                let mut d = RevisionDecl {
                    revision: id,
                    down_revision: down,
                    ..RevisionDecl::default()
                };
                if k > 1 && kind % 7 == 3 {
                    d.depends_on = vec![decls[p2 as usize % k].revision.clone()];
                }
                if label && kind % 3 == 0 {
                    d.branch_labels = vec![format!("l{k}")];
                }
                decls.push(d);
            }
            decls
        })
    }

    fn queries() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(proptest::string::string_regex("(r0[0-9]{0,2}x?|l[0-9]|heads?|base|[-+][0-9]|@)(@|[-+][0-9])?(r0[0-9]{0,2}x?|l[0-9]|head|base)?").unwrap(), 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn random_declarations_never_panic(decls in proptest::collection::vec(decl(), 0..12)) {
            if let Ok(m) = RevisionMap::build(decls) {
                let _ = m.walk_revisions("base", "heads");
                let _ = format::heads_output(&m, m.heads(), true);
            }
        }

        #[test]
        fn random_graphs_answer_every_question_without_panicking(decls in dag(), qs in queries()) {
            let m = RevisionMap::build(decls).expect("an acyclic graph builds");
            let history = m.walk_revisions("base", "heads").expect("history of a valid graph");
            // every revision appears exactly once, after all of its descendants
            prop_assert_eq!(history.len(), m.len());
            for (pos, &i) in history.iter().enumerate() {
                for &parent in m.rev(i).normalized_parents() {
                    prop_assert!(history[pos..].contains(&parent));
                }
            }
            let all_ids: Vec<String> = m.ids(m.heads());
            let steps = m.upgrade_steps(&RevArg::one("heads"), &[]).expect("upgrade from empty");
            prop_assert_eq!(steps.len(), m.len());
            let _ = m.downgrade_steps(&RevArg::one("base"), &all_ids);
            for q in &qs {
                let _ = m.get_revisions(&RevArg::one(q));
                let _ = m.upgrade_steps(&RevArg::one(q), &all_ids);
                let _ = m.downgrade_steps(&RevArg::one(q), &all_ids);
                let _ = commands::history(&m, commands::HistoryRange::parse(&format!("{q}:")).ok().as_ref(), None);
                let _ = commands::show(&m, q);
            }
            let _ = commands::branches(&m);
            let _ = lanes::render(&m, &lanes::layout(&m, &history), |i| m.rev(i).revision.clone());
        }
    }
}
