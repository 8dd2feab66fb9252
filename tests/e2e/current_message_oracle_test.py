#!/usr/bin/env python3
"""current_message_oracle_test.py - tests/lib/current_message_oracle.py against SPEC section 6, one
case per rule and per hard case of issue 20; every expected value worked out by hand here.

    python3 tests/e2e/current_message_oracle_test.py [-v]      (exit 0: all passed)

Chat id "c" throughout (prefix "c-") unless a case needs another; blobs are written as JSON text
so that duplicate keys and key order are exactly what the case says.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True
import current_message_oracle as oracle  # noqa: E402

ORACLE = os.path.join(LIB, "current_message_oracle.py")


def row(key, parent=None, t=None, chat="c"):
    """A chat_message row as upstream's 8452d01d26d7 writes it: id `<chat>-<key>`."""
    return {"id": "%s-%s" % (chat, key), "chat_id": chat, "parent_id": parent, "created_at": t}


def raw_row(row_id, parent=None, t=None, chat="c"):
    return {"id": row_id, "chat_id": chat, "parent_id": parent, "created_at": t}


def msgs(body, extra=""):
    """A blob whose history.messages is the given JSON object body."""
    return '{"history":{"messages":{%s}}%s}' % (body, extra)


class Case(unittest.TestCase):
    def check(self, blob, rows=(), current=None, path=None, results=None, after=None,
              reject=None, chat="c"):
        out = oracle.resolve(chat, current, blob, list(rows))
        if path is not None:
            self.assertEqual(out.path, path, "path")
        if reject is not None:
            self.assertIsNotNone(out.reject, "expected a reject (%s), got %s" % (reject, out.results))
            self.assertIn(reject, out.reject)
            self.assertEqual(out.after(current), {current}, "a reject changes nothing")
            return
        self.assertIsNone(out.reject, "unexpected reject")
        if results is not None:
            self.assertEqual(out.results, set(results), "results")
        if after is not None:
            self.assertEqual(out.after(current), set(after), "after")


class Candidates(Case):
    def test_current_value_is_the_first_candidate_and_is_kept(self):
        # rows a <- b; b is the leaf, but the column's "a" is a key: kept, nothing written
        self.check(None, [row("a", None, 1), row("b", "a", 2)], current="a",
                   path="A", results={"a"}, after={"a"})

    def test_history_currentId_with_the_chat_prefix_is_stripped(self):
        self.check(msgs("", ',"currentId":"c-a"'), [row("a", None, 1), row("b", "a", 2)],
                   path="A", results={"a"}, after={"a"})

    def test_history_currentId_without_the_prefix(self):
        self.check(msgs("", ',"currentId":"a"'), [row("a", None, 1), row("b", "a", 2)],
                   results={"a"}, after={"a"})

    def test_the_prefix_is_stripped_once_only(self):
        # "c-c-a" -> "c-a", which is the key of row "c-c-a"; "a" is also a key but comes later
        self.check('{"currentId":"c-c-a","branchPointMessageId":"a"}',
                   [row("a", None, 9), row("c-a", None, 1)], results={"c-a"})

    def test_candidate_order_current_history_top_level_branch_point(self):
        rows = [row(k, None, i) for i, k in enumerate(("h", "t", "p", "z"))]
        blob = '{"branchPointMessageId":"p","currentId":"t","history":{"currentId":"h"}}'
        self.check(blob, rows, current="gone", results={"h"}, after={"h"})
        self.check('{"branchPointMessageId":"p","currentId":"t"}', rows, results={"t"})
        self.check('{"branchPointMessageId":"p","currentId":"nope"}', rows, results={"p"})

    def test_candidates_that_are_not_keys_fall_through_to_the_newest_leaf(self):
        self.check('{"currentId":"x","branchPointMessageId":"y","history":{"currentId":"w"}}',
                   [row("a", None, 1), row("b", "a", 2)], current="v", results={"b"},
                   after={"b"})

    def test_non_string_candidates_are_skipped(self):
        # keys "5", "true", "1.5" exist, yet candidates 5, true, 1.5 are not strings
        rows = [row("5", None, 1), row("true", None, 2), row("1.5", None, 3), row("n", None, 9)]
        for v in ("5", "true", "1.5", "null", "{}", "[]", '["5"]', '{"5":1}', '""'):
            blob = '{"history":{"currentId":%s},"currentId":%s}' % (v, v)
            self.check(blob, rows, results={"n"}, after={"n"})

    def test_a_current_value_with_the_prefix_is_rewritten_stripped(self):
        self.check(None, [row("a", None, 1)], current="c-a", results={"a"}, after={"a"})

    def test_a_stale_current_value_is_replaced(self):
        self.check(None, [row("a", None, 1)], current="old", results={"a"}, after={"a"})

    def test_a_candidate_that_is_only_the_prefix_is_skipped_on_path_a(self):
        self.check('{"currentId":"c-","branchPointMessageId":"a"}',
                   [row("a", None, 1), row("b", "a", 2)], results={"a"})

    def test_a_candidate_that_is_only_the_prefix_found_first_on_path_b_gives_the_leaf(self):
        # upstream: next(...) finds "" (a key), which is falsy: the newest leaf decides,
        # though the later candidate "a" is a key too
        blob = '{"currentId":"c-","branchPointMessageId":"a","history":{"messages":' \
               '{"":{"timestamp":1},"a":{"timestamp":2},"b":{"timestamp":5}}}}'
        self.check(blob, path="B", results={"b"})

    def test_a_candidate_holding_nul_rejects_the_chat(self):
        self.check('{"currentId":"x\\u0000y"}', [row("a", None, 1)], reject="NUL")

    def test_a_candidate_holding_a_lone_surrogate_rejects_the_chat(self):
        self.check('{"branchPointMessageId":"\\ud800"}', [row("a", None, 1)],
                   reject="surrogate")

    def test_chat_ids_with_dashes_strip_their_own_prefix(self):
        self.check('{"currentId":"a-b-c"}', [row("c", None, 1, chat="a-b"),
                                             row("b-c", None, 0, chat="a-b")],
                   chat="a-b", results={"c"})


class Blob(Case):
    def test_blobs_that_are_not_objects_count_as_empty(self):
        # only the column's value is a candidate; path B has an empty map: nothing
        for blob in (None, "null", "[]", '[{"currentId":"a"}]', "5", "true", '"x"', '""',
                     '"[1]"', '"{\\"currentId\\":\\"a\\"} junk"'):
            self.check(blob, current="keep", path="B", results=set(), after={"keep"})
            self.check(blob, [row("a", None, 1), row("b", None, 2)], current="a",
                       results={"a"})

    def test_a_json_string_blob_is_parsed_once_more(self):
        inner = msgs('"a":{"timestamp":1},"b":{"timestamp":2}', ',"currentId":"a"')
        self.check(json.dumps(inner), path="B", results={"a"}, after={"a"})
        self.check(json.dumps(json.dumps(inner)), results=set(), after={None})

    def test_a_double_encoded_blob_may_hold_nan(self):
        # Python's json.loads reads NaN: NaN > x is False, so max keeps the first key
        inner = '{"history":{"messages":{"n":{"timestamp":NaN},"m":{"timestamp":9}}}}'
        self.check(json.dumps(inner), results={"n"})
        inner = '{"history":{"messages":{"m":{"timestamp":9},"n":{"timestamp":NaN}}}}'
        self.check(json.dumps(inner), results={"m"})

    def test_a_double_encoded_integer_over_4300_digits_makes_the_blob_empty(self):
        inner = '{"currentId":"a","history":{"messages":{"a":{"timestamp":%s}}}}' % ("9" * 4301)
        self.check(json.dumps(inner), current="k", results=set(), after={"k"})
        inner = inner.replace("9" * 4301, "9" * 4300)
        self.check(json.dumps(inner), current="k", results={"a"}, after={"a"})

    def test_an_outer_integer_over_4300_digits_is_read(self):
        blob = '{"history":{"messages":{"a":{"timestamp":%s},"b":{"timestamp":1}}}}' % ("9" * 5000)
        self.check(blob, results={"a"})

    def test_history_that_is_not_an_object_counts_as_empty(self):
        for h in ("[]", '"x"', "5", "null", '[{"currentId":"a"}]'):
            blob = '{"history":%s,"branchPointMessageId":"b"}' % h
            self.check(blob, [row("a", None, 5), row("b", None, 1)], results={"b"})

    def test_duplicate_message_keys_last_value_at_the_first_place(self):
        # "a" first (time 1, later 5), "b" (time 5): a tie at 5, "a" sits first
        blob = msgs('"a":{"timestamp":1},"b":{"timestamp":5},"a":{"timestamp":5}')
        self.check(blob, results={"a"})
        # the last "a" names "b" as its parent: b is not a leaf any more
        blob = msgs('"a":{"timestamp":9},"b":{"timestamp":5},"a":{"parentId":"b","timestamp":1}')
        self.check(blob, results={"a"})
        blob = msgs('"a":{"parentId":"b","timestamp":9},"b":{"timestamp":5},"a":{"timestamp":1}')
        self.check(blob, results={"b"})

    def test_duplicate_candidate_keys_last_value_wins(self):
        rows = [row("a", None, 1), row("b", None, 2), row("z", None, 9)]
        self.check('{"currentId":"a","currentId":"b"}', rows, results={"b"})
        self.check('{"currentId":"a","currentId":5}', rows, results={"z"})
        self.check('{"history":{"currentId":"a"},"history":{"currentId":"b"}}', rows,
                   results={"b"})
        self.check('{"history":{"currentId":"a"},"history":[]}', rows, results={"z"})


class PathA(Case):
    def test_rows_decide_not_the_blob(self):
        blob = msgs('"a":{"timestamp":1},"b":{"parentId":"a","timestamp":2},'
                    '"z":{"parentId":"b","timestamp":99}')
        self.check(blob, [row("a", None, 1), row("b", "a", 2)], path="A", results={"b"})

    def test_a_row_without_a_blob_entry_can_be_the_newest_leaf(self):
        blob = msgs('"a":{"timestamp":1}', ',"currentId":"gone"')
        self.check(blob, [row("a", None, 1), row("extra", "a", 7)], results={"extra"})

    def test_a_blob_candidate_without_a_row_is_not_a_key(self):
        blob = msgs('"a":{"timestamp":1},"new":{"parentId":"a","timestamp":5}',
                    ',"currentId":"new"')
        self.check(blob, [row("a", None, 1)], path="A", results={"a"})

    def test_created_at_null_counts_as_zero(self):
        self.check(None, [row("a", None, None), row("b", None, 0), row("d", None, -5)],
                   results={"a", "b"})

    def test_a_prefixed_parent_id_is_stripped(self):
        self.check(None, [row("a", None, 9), row("b", "c-a", 1)], results={"b"})

    def test_ties_accept_any_newest_leaf(self):
        self.check(None, [row("a", None, 1), row("b", "a", 5), row("d", "a", 5), row("e", "a", 4)],
                   results={"b", "d"}, after={"b", "d"})

    def test_a_cycle_makes_every_key_a_leaf(self):
        self.check(None, [row("a", "b", 3), row("b", "a", 7)], results={"b"})
        self.check(None, [row("s", "s", 3)], results={"s"})

    def test_a_cycle_beside_a_chain_leaves_only_the_chains_leaf(self):
        self.check(None, [row("a", "b", 30), row("b", "a", 70), row("x", None, 1), row("y", "x", 2)],
                   results={"y"})

    def test_a_parent_outside_the_keys_does_not_hide_a_leaf(self):
        self.check(None, [row("a", "missing", 3), row("b", None, 2)], results={"a"})

    def test_seconds_and_milliseconds_are_compared_raw(self):
        self.check(None, [row("s", None, 1717999999), row("ms", None, 1717000000000)],
                   results={"ms"})

    def test_a_row_whose_key_strips_to_empty_is_not_a_key(self):
        self.check(None, [raw_row("c-", None, 99), row("a", None, 1)], path="A", results={"a"})

    def test_rows_that_all_strip_to_empty_mean_path_b(self):
        self.check(msgs('"k":{"timestamp":1}'), [raw_row("c-", None, 99)], path="B",
                   results={"k"})

    def test_a_row_id_without_the_prefix_is_a_key_as_it_is(self):
        self.check('{"currentId":"plain"}', [raw_row("plain", None, 1), row("a", None, 9)],
                   results={"plain"})

    def test_colliding_keys_may_hold_either_rows_values(self):
        # rows "c-a" and "a" both give key "a": upstream keeps whichever it reads last
        rows = [row("a", None, 1), raw_row("a", None, 9), row("b", None, 5)]
        self.check(None, rows, results={"a", "b"})
        rows = [row("a", "b", 1), raw_row("a", None, 1), row("b", None, 5)]
        self.check(None, rows, results={"a", "b"})

    def test_rows_of_another_chat_do_not_count(self):
        out = oracle.run([{"id": "c", "current_message_id": None, "chat": None}],
                         oracle.group_rows([row("a", None, 1, chat="d")]), _Sink())
        self.assertEqual((out["A"], out["B"], out["writes"]), (0, 1, 0))


class PathB(Case):
    def test_newest_leaf_of_history_messages(self):
        blob = msgs('"a":{"role":"user","timestamp":1},"b":{"parentId":"a","timestamp":2},'
                    '"d":{"parentId":"a","timestamp":3},"e":{"parentId":"d","timestamp":1}')
        self.check(blob, path="B", results={"b"})  # leaves b (2) and e (1)

    def test_a_candidate_that_is_a_key(self):
        self.check(msgs('"a":{"timestamp":1},"b":{"timestamp":2}', ',"currentId":"c-a"'),
                   results={"a"})

    def test_keys_are_not_stripped(self):
        # key "c-a" (prefixed in the blob); candidate "c-a" strips to "a": not a key
        blob = msgs('"c-a":{"timestamp":1},"b":{"timestamp":2}', ',"currentId":"c-a"')
        self.check(blob, results={"b"})
        blob = msgs('"c-a":{"timestamp":1},"b":{"timestamp":2}', ',"currentId":"c-c-a"')
        self.check(blob, results={"c-a"})

    def test_list_form_messages_when_history_messages_is_empty(self):
        for h in ('"history":{"messages":{}},', '"history":{"messages":[]},', "",
                  '"history":{"messages":null},', '"history":5,'):
            blob = '{%s"messages":[{"id":"a","timestamp":1},' \
                   '{"id":"b","parentId":"a","timestamp":2}]}' % h
            self.check(blob, path="B", results={"b"})

    def test_list_form_is_ignored_when_history_messages_has_members(self):
        blob = '{"history":{"messages":{"h":{"timestamp":1}}},"messages":[{"id":"a","timestamp":9}]}'
        self.check(blob, results={"h"})

    def test_history_messages_as_a_list_is_not_read(self):
        blob = '{"history":{"messages":[{"id":"a","timestamp":9}]}}'
        self.check(blob, results=set())

    def test_list_form_skips_falsy_ids_and_non_objects(self):
        blob = '{"messages":[{"id":"","timestamp":9},{"id":0,"timestamp":9},{"id":null},' \
               '{"timestamp":9},{"id":false},{"id":[]},{"id":{}},"x",5,["id"],' \
               '{"id":"a","timestamp":1}]}'
        self.check(blob, results={"a"})

    def test_list_form_duplicate_ids_last_at_first_place(self):
        blob = '{"messages":[{"id":"a","timestamp":1},{"id":"b","timestamp":5},' \
               '{"id":"a","timestamp":5}]}'
        self.check(blob, results={"a"})

    def test_list_form_numeric_ids_are_written_as_postgresql_text(self):
        self.check('{"messages":[{"id":5,"timestamp":1}]}', results={"5"}, after={"5"})
        self.check('{"messages":[{"id":1.50,"timestamp":1}]}', results={"1.5"})
        self.check('{"messages":[{"id":1E+2,"timestamp":1}]}', results={"100.0"})
        self.check('{"messages":[{"id":true,"timestamp":1}]}', results={"true"})
        self.check('{"messages":[{"id":1e400,"timestamp":1}]}', results={"Infinity"})
        self.check('{"messages":[{"id":5}]}', current="5", results={"5"}, after={"5"})

    def test_list_form_numeric_ids_equal_by_value(self):
        # 1, 1.0 and true are one key (the first kept); parentId 1.0 names it
        blob = '{"messages":[{"id":1,"timestamp":9},{"id":1.0,"timestamp":1},' \
               '{"id":"x","parentId":1.0,"timestamp":2}]}'
        self.check(blob, results={"x"})
        blob = '{"messages":[{"id":1,"timestamp":9},{"id":true,"timestamp":1}]}'
        self.check(blob, results={"1"})

    def test_a_numeric_key_never_matches_a_string_candidate(self):
        blob = '{"currentId":"5","messages":[{"id":5,"timestamp":1},{"id":"z","timestamp":2}]}'
        self.check(blob, results={"z"})

    def test_an_unhashable_list_form_id_rejects_on_either_path(self):
        blob = '{"messages":[{"id":"a"},{"id":[1]}]}'
        self.check(blob, path="B", reject="unhashable")
        self.check(blob, [row("a", None, 1)], current="a", path="A", reject="unhashable")
        self.check('{"messages":[{"id":{"k":1}}]}', reject="unhashable")

    def test_an_unhashable_parent_id_rejects_when_leaves_are_sought(self):
        blob = msgs('"a":{"timestamp":1},"b":{"parentId":[],"timestamp":2}')
        self.check(blob, reject="unhashable")
        self.check(blob[:-1] + ',"currentId":"a"}', results={"a"})  # a candidate: no search

    def test_ties_go_to_the_first_key_in_json_order(self):
        self.check(msgs('"z":{"timestamp":5},"a":{"timestamp":5},"m":{"timestamp":4}'),
                   results={"z"})
        self.check(msgs('"a":{"timestamp":5},"z":{"timestamp":5}'), results={"a"})

    def test_milliseconds_beat_seconds_compared_raw(self):
        self.check(msgs('"s":{"timestamp":1717999999},"ms":{"timestamp":1717000000000}'),
                   results={"ms"})

    def test_a_mix_of_string_and_number_timestamps_rejects(self):
        self.check(msgs('"a":{"timestamp":"1717000000"},"b":{"timestamp":1717000001}'),
                   current="old", reject="not supported")
        self.check(msgs('"b":{"timestamp":5},"a":{"timestamp":"x"}'), reject="not supported")
        self.check(msgs('"b":{"timestamp":true},"a":{"timestamp":"x"}'), reject="not supported")

    def test_a_mix_that_is_never_compared_does_not_reject(self):
        # the string is on a parent, or there is one leaf, or a candidate decides
        self.check(msgs('"a":{"timestamp":"x"},"b":{"parentId":"a","timestamp":5}'),
                   results={"b"})
        self.check(msgs('"a":{"timestamp":"x"}'), results={"a"})
        self.check(msgs('"a":{"timestamp":"x"},"b":{"timestamp":5}', ',"currentId":"b"'),
                   results={"b"})

    def test_string_timestamps_compare_as_strings(self):
        self.check(msgs('"a":{"timestamp":"10"},"b":{"timestamp":"9"}'), results={"b"})

    def test_falsy_timestamps_count_as_zero(self):
        for v in ("null", "false", "0", "0.0", '""', "[]", "{}"):
            self.check(msgs('"a":{"timestamp":%s},"b":{"timestamp":-1}' % v), results={"a"})
        self.check(msgs('"a":{"timestamp":null},"b":{"timestamp":3}'), results={"b"})
        self.check(msgs('"a":{},"b":{"timestamp":""}'), results={"a"})

    def test_an_empty_string_timestamp_beside_a_string_rejects(self):
        self.check(msgs('"a":{"timestamp":""},"b":{"timestamp":"abc"}'), reject="not supported")

    def test_booleans_ints_and_floats_compare_as_numbers(self):
        self.check(msgs('"a":{"timestamp":true},"b":{"timestamp":1}'), results={"a"})
        self.check(msgs('"a":{"timestamp":1},"b":{"timestamp":1.5}'), results={"b"})
        self.check(msgs('"a":{"timestamp":1e400},"b":{"timestamp":99999999999999999999}'),
                   results={"a"})

    def test_big_integers_compare_exactly_with_floats(self):
        # 2**53 + 1 > 9007199254740992.0, though a double cannot tell them apart
        self.check(msgs('"f":{"timestamp":9007199254740992.0},"i":{"timestamp":9007199254740993}'),
                   results={"i"})
        self.check(msgs('"f":{"timestamp":1e20},"i":{"timestamp":100000000000000000000}'),
                   results={"f"})

    def test_arrays_compare_element_by_element_objects_do_not(self):
        self.check(msgs('"a":{"timestamp":[1,2]},"b":{"timestamp":[1,3]}'), results={"b"})
        self.check(msgs('"a":{"timestamp":[1]},"b":{"timestamp":2}'), reject="not supported")
        self.check(msgs('"a":{"timestamp":{"x":1}},"b":{"timestamp":{"y":1}}'),
                   reject="not supported")

    def test_messages_without_a_role_and_non_objects_count(self):
        self.check(msgs('"a":{"role":"user","timestamp":1},"b":{"content":"x","timestamp":2}'),
                   results={"b"})
        self.check(msgs('"a":5,"b":"text","d":null,"e":{"timestamp":-1}'), results={"a"})

    def test_a_cycle_makes_every_key_a_leaf(self):
        self.check(msgs('"a":{"parentId":"b","timestamp":1},"b":{"parentId":"a","timestamp":2}'),
                   results={"b"})
        self.check(msgs('"a":{"parentId":"a","timestamp":1}'), results={"a"})

    def test_an_empty_map_gives_nothing(self):
        for blob in (msgs(""), '{"messages":[]}', '{"history":{}}', "{}"):
            self.check(blob, current=None, results=set(), after={None})

    def test_an_empty_key_result_is_never_written(self):
        self.check(msgs('"":{"timestamp":9},"a":{"timestamp":1}'), current="keep",
                   results={""}, after={"keep"})

    def test_a_result_holding_nul_or_a_lone_surrogate_rejects(self):
        self.check(msgs('"a\\u0000b":{"timestamp":1}'), reject="NUL")
        self.check(msgs('"\\udc00":{"timestamp":1}'), reject="surrogate")
        self.check(msgs('"\\udc00":{"timestamp":1},"ok":{"timestamp":2}'), results={"ok"})


class Write(Case):
    def test_nothing_resolved_keeps_the_current_value(self):
        self.check("{}", current="keep", results=set(), after={"keep"})
        self.check("{}", current=None, results=set(), after={None})

    def test_an_equal_result_writes_nothing(self):
        out = oracle.resolve("c", "a", None, [row("a", None, 1)])
        self.assertEqual(out.after("a"), {"a"})

    def test_a_different_result_is_written(self):
        self.check(msgs('"a":{"timestamp":1}'), current="z", results={"a"}, after={"a"})

    def test_a_tie_with_the_current_value_is_impossible(self):
        # the current value, when a key, is the first candidate: it never reaches the tie
        self.check(None, [row("a", None, 5), row("b", None, 5)], current="b", results={"b"},
                   after={"b"})


class _Sink:
    def write(self, _):
        pass


class Cli(unittest.TestCase):
    def run_cli(self, chats, rows):
        with tempfile.TemporaryDirectory() as d:
            cf, mf = os.path.join(d, "chats.jsonl"), os.path.join(d, "rows.jsonl")
            with open(cf, "w") as f:
                f.write("".join(json.dumps(c) + "\n" for c in chats))
            with open(mf, "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in rows))
            p = subprocess.run([sys.executable, ORACLE, "--chats", cf, "--messages", mf],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(line) for line in p.stdout.splitlines()], p.stderr

    def test_one_line_per_chat_in_input_order_and_a_summary(self):
        chats = [{"id": "t", "current_message_id": None, "chat": None},
                 {"id": "b", "current_message_id": "x", "chat": msgs('"k":{"timestamp":1}')},
                 {"id": "r", "current_message_id": None,
                  "chat": msgs('"a":{"timestamp":"1"},"b":{"timestamp":2}')},
                 {"id": "e", "current_message_id": "keep", "chat": "{}"}]
        rows = [row("a", None, 3, chat="t"), row("d", None, 3, chat="t")]
        lines, err = self.run_cli(chats, rows)
        self.assertEqual(lines, [
            {"id": "t", "path": "A", "results": ["a", "d"], "after": ["a", "d"]},
            {"id": "b", "path": "B", "results": ["k"], "after": ["k"]},
            {"id": "r", "path": "B", "reject": "timestamps: '>' not supported between instances"
             " of 'int' and 'str'", "after": [None]},
            {"id": "e", "path": "B", "results": [], "after": ["keep"]}])
        self.assertIn("4 chats, 1 path A, 3 path B, 2 writes, 1 ties, 1 rejects", err)


if __name__ == "__main__":
    unittest.main()
