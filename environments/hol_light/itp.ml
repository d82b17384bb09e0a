(* ========================================================================= *)
(* The framework's helper, loaded once into a HOL Light toplevel (the        *)
(* zygote) after hol.ml. It never compiles text from a model: a server forked *)
(* from the zygote reads each request as one line of data, an s-expression   *)
(* interpreted here against fixed tables (tactics, conversions, the theorem  *)
(* database). Terms inside requests are data for HOL Light's term parser or  *)
(* for the typed s-expression reader below.                                  *)
(*                                                                           *)
(* Written for HOL Light's camlp5 lexer: no ALL-CAPS OCaml constructors      *)
(* (they lex as values); Unix constants are built with Obj.magic.            *)
(* ========================================================================= *)

verbose := false;;
report_timing := false;;
type_invention_warning := false;;

module Itp = struct

exception Timeout
exception Bad_request of string

(* ------------------------------------------------------------------------- *)
(* JSON and s-expression output.                                             *)
(* ------------------------------------------------------------------------- *)

let add_json_string b s =
  Buffer.add_char b '"';
  String.iter
    (fun c ->
      match c with
      | '"' -> Buffer.add_string b "\\\""
      | '\\' -> Buffer.add_string b "\\\\"
      | '\n' -> Buffer.add_string b "\\n"
      | '\t' -> Buffer.add_string b "\\t"
      | c when Char.code c < 32 || Char.code c = 127 ->
          Buffer.add_string b (Printf.sprintf "\\u%04x" (Char.code c))
      | c -> Buffer.add_char b c)
    s;
  Buffer.add_char b '"'

let json_string s =
  let b = Buffer.create (String.length s + 8) in
  add_json_string b s; Buffer.contents b

let plain_atom_char c =
  let k = Char.code c in
  k > 32 && k < 127 && c <> '(' && c <> ')' && c <> '"' && c <> '\\'

let add_atom b s =
  if s <> "" && String.for_all plain_atom_char s then Buffer.add_string b s
  else add_json_string b s

let rec add_type b ty =
  if is_vartype ty then
    (Buffer.add_string b "(tyvar "; add_atom b (dest_vartype ty);
     Buffer.add_char b ')')
  else
    let c, args = dest_type ty in
    Buffer.add_char b '('; add_atom b c;
    List.iter (fun a -> Buffer.add_char b ' '; add_type b a) args;
    Buffer.add_char b ')'

let rec add_term b tm =
  if is_var tm then
    let n, ty = dest_var tm in
    Buffer.add_string b "(v "; add_type b ty; Buffer.add_char b ' ';
    add_atom b n; Buffer.add_char b ')'
  else if is_const tm then
    let n, ty = dest_const tm in
    Buffer.add_string b "(c "; add_type b ty; Buffer.add_char b ' ';
    add_atom b n; Buffer.add_char b ')'
  else if is_comb tm then
    let f, x = dest_comb tm in
    Buffer.add_string b "(a "; add_term b f; Buffer.add_char b ' ';
    add_term b x; Buffer.add_char b ')'
  else
    let v, body = dest_abs tm in
    Buffer.add_string b "(l "; add_term b v; Buffer.add_char b ' ';
    add_term b body; Buffer.add_char b ')'

let sexp_of_term tm =
  let b = Buffer.create 256 in add_term b tm; Buffer.contents b

(* The printer breaks long lines; goals travel on one line: a line break and
   the indentation after it become one space. *)
let one_line s =
  let b = Buffer.create (String.length s) in
  let broken = ref false in
  String.iter (fun c ->
      if c = '\n' then broken := true
      else if c = ' ' && !broken then ()
      else begin
        if !broken then Buffer.add_char b ' ';
        broken := false; Buffer.add_char b c
      end) s;
  Buffer.contents b

let print_term_string tm = one_line (string_of_term tm)

(* A goal as JSON: strings for people and text models, typed s-expressions
   for exact round trips and graph encoders. *)
let add_goal_json b (hyps, w) =
  let add_list f l =
    Buffer.add_char b '[';
    List.iteri (fun i x -> if i > 0 then Buffer.add_char b ','; f x) l;
    Buffer.add_char b ']' in
  Buffer.add_string b "{\"hypotheses\":";
  add_list (fun t -> add_json_string b (print_term_string t)) hyps;
  Buffer.add_string b ",\"conclusion\":";
  add_json_string b (print_term_string w);
  Buffer.add_string b ",\"hypothesis_sexps\":";
  add_list (fun t -> add_json_string b (sexp_of_term t)) hyps;
  Buffer.add_string b ",\"conclusion_sexp\":";
  add_json_string b (sexp_of_term w);
  Buffer.add_char b '}'

(* ------------------------------------------------------------------------- *)
(* S-expression input: atoms, "quoted strings" and lists.                     *)
(* ------------------------------------------------------------------------- *)

type sx = Atom of string | Str of string | Lst of sx list

let parse_sx (s : string) : sx =
  let n = String.length s in
  let pos = ref 0 in
  let peek () = if !pos < n then s.[!pos] else '\000' in
  let rec skip () =
    if !pos < n && (s.[!pos] = ' ' || s.[!pos] = '\n' || s.[!pos] = '\t')
    then (incr pos; skip ()) in
  let read_string () =
    incr pos;
    let b = Buffer.create 16 in
    let rec go () =
      if !pos >= n then raise (Bad_request "unterminated string") else
      let c = s.[!pos] in
      incr pos;
      if c = '"' then () else
      if c = '\\' then begin
        if !pos >= n then raise (Bad_request "bad escape");
        let e = s.[!pos] in
        incr pos;
        (match e with
         | 'n' -> Buffer.add_char b '\n'
         | 't' -> Buffer.add_char b '\t'
         | 'u' ->
             if !pos + 4 > n then raise (Bad_request "bad escape");
             let k = int_of_string ("0x" ^ String.sub s !pos 4) in
             if k > 255 then raise (Bad_request "non-ASCII escape");
             pos := !pos + 4; Buffer.add_char b (Char.chr k)
         | c -> Buffer.add_char b c);
        go ()
      end else (Buffer.add_char b c; go ()) in
    go (); Str (Buffer.contents b) in
  let read_atom () =
    let start = !pos in
    while !pos < n && plain_atom_char s.[!pos] do incr pos done;
    if !pos = start then raise (Bad_request "unexpected character");
    Atom (String.sub s start (!pos - start)) in
  let rec read () =
    skip ();
    match peek () with
    | '(' ->
        incr pos;
        let rec items acc =
          skip ();
          if !pos >= n then raise (Bad_request "unbalanced parenthesis")
          else if peek () = ')' then (incr pos; Lst (List.rev acc))
          else items (read () :: acc) in
        items []
    | ')' -> raise (Bad_request "unexpected ')'")
    | '"' -> read_string ()
    | _ -> read_atom () in
  let v = read () in
  skip ();
  if !pos <> n then raise (Bad_request "trailing input") else v

let name_of = function
  | Atom a -> a
  | Str a -> a
  | Lst _ -> raise (Bad_request "expected a name")

let rec type_of_sx = function
  | Lst [Atom "tyvar"; n] -> mk_vartype (name_of n)
  | Lst (c :: args) -> mk_type (name_of c, List.map type_of_sx args)
  | _ -> raise (Bad_request "bad type s-expression")

let rec term_of_sx = function
  | Lst [Atom "v"; ty; n] -> mk_var (name_of n, type_of_sx ty)
  | Lst [Atom "c"; ty; n] -> mk_mconst (name_of n, type_of_sx ty)
  | Lst [Atom "a"; f; x] -> mk_comb (term_of_sx f, term_of_sx x)
  | Lst [Atom "l"; v; body] -> mk_abs (term_of_sx v, term_of_sx body)
  | _ -> raise (Bad_request "bad term s-expression")

(* ------------------------------------------------------------------------- *)
(* Goals. Textual hypotheses and conclusion are parsed as ONE implication    *)
(* and split, so that invented type variables agree between them.           *)
(* ------------------------------------------------------------------------- *)

let parse_closed_term s =
  let ptm, rest = (parse_preterm o lex o explode) s in
  if rest <> [] then failwith "unparsed input following term" else
  term_of_preterm (retypecheck [] ptm)

let goal_of_sx = function
  | Lst [Atom "goal"; Lst hyps; w] ->
      (List.map term_of_sx hyps, term_of_sx w)
  | Lst [Atom "goaltext"; Lst hyps; w] ->
      let hs = List.map name_of hyps and c = name_of w in
      let joint =
        List.fold_right (fun h acc -> "(" ^ h ^ ") ==> " ^ acc) hs
          ("(" ^ c ^ ")") in
      let tm = parse_closed_term joint in
      let rec split k t =
        if k = 0 then [], t else
        let a, rest = dest_imp t in
        let hs', w' = split (k - 1) rest in a :: hs', w' in
      split (List.length hs) tm
  | _ -> raise (Bad_request "bad goal")

let check_goal (hyps, w) =
  List.iter (fun t -> if type_of t <> bool_ty then failwith "hypothesis is not boolean") hyps;
  if type_of w <> bool_ty then failwith "conclusion is not boolean"

(* Free variables of the current goal, so that a term argument such as
   `n + 1` gets the goal's types for n. *)
let goal_venv = ref ([] : (string * pretype) list)

let parse_goal_term s =
  let ptm, rest = (parse_preterm o lex o explode) s in
  if rest <> [] then failwith "unparsed input following term" else
  term_of_preterm (retypecheck !goal_venv ptm)

(* ------------------------------------------------------------------------- *)
(* The theorem database and the tactic, conversion tables.                   *)
(* ------------------------------------------------------------------------- *)

let theorem_table : (string, thm) Hashtbl.t = Hashtbl.create 4096
let () = List.iter (fun (n, th) -> Hashtbl.replace theorem_table n th) (!theorems)

type arg = Thm of thm | Thms of thm list | Trm of term | Cnv of conv
         | Cnvx of (conv -> conv) | Text of string

let tactic_table : (string, arg list -> tactic) Hashtbl.t = Hashtbl.create 64
let conv_table : (string, conv) Hashtbl.t = Hashtbl.create 32
let convx_table : (string, conv -> conv) Hashtbl.t = Hashtbl.create 16

let arity_error name = raise (Bad_request ("wrong arguments for " ^ name))
let t0 name tac = Hashtbl.replace tactic_table name
  (function [] -> tac | _ -> arity_error name)
let tthm name f = Hashtbl.replace tactic_table name
  (function [Thm th] -> f th | _ -> arity_error name)
let tthms name f = Hashtbl.replace tactic_table name
  (function [Thms l] -> f l | _ -> arity_error name)
let tterm name f = Hashtbl.replace tactic_table name
  (function [Trm t] -> f t | _ -> arity_error name)

(* Tactics DeepHOL used that stock HOL Light lacks, defined from stock ones. *)
let raw_subgoal_tac t = SUBGOAL_THEN t ASSUME_TAC
let raw_conjuncts_tac th = MAP_EVERY ASSUME_TAC (CONJUNCTS th)
let mk_comb_tac (asl, w) =
  let l, r = dest_eq w in
  let f, x = dest_comb l and g, y = dest_comb r in
  (SUBGOAL_THEN (mk_eq (f, g)) (fun th1 ->
     SUBGOAL_THEN (mk_eq (x, y)) (fun th2 -> ACCEPT_TAC (MK_COMB (th1, th2)))))
    (asl, w)

let () = t0 "ARITH_TAC" ARITH_TAC
let () = t0 "REAL_ARITH_TAC" REAL_ARITH_TAC
let () = t0 "INT_ARITH_TAC" INT_ARITH_TAC
let () = t0 "EQ_TAC" EQ_TAC
let () = t0 "ITAUT_TAC" ITAUT_TAC
let () = t0 "DISCH_TAC" DISCH_TAC
let () = t0 "MK_COMB_TAC" mk_comb_tac
let () = t0 "ABS_TAC" ABS_TAC
let () = t0 "DISJ1_TAC" DISJ1_TAC
let () = t0 "DISJ2_TAC" DISJ2_TAC
let () = t0 "ANTS_TAC" ANTS_TAC
let () = t0 "CONJ_TAC" CONJ_TAC
let () = t0 "REFL_TAC" REFL_TAC
let () = t0 "GEN_TAC" GEN_TAC
let () = t0 "STRIP_TAC" STRIP_TAC
let () = t0 "INDUCT_TAC" INDUCT_TAC
let () = t0 "LIST_INDUCT_TAC" LIST_INDUCT_TAC
let () = t0 "TAUT_TAC" (CONV_TAC TAUT)
let () = t0 "ASM_ARITH_TAC" ASM_ARITH_TAC
let () = t0 "ASM_REAL_ARITH_TAC" ASM_REAL_ARITH_TAC
let () = t0 "ASM_INT_ARITH_TAC" ASM_INT_ARITH_TAC
let () = t0 "COND_CASES_TAC" COND_CASES_TAC
let () = tterm "ASM_CASES_TAC" ASM_CASES_TAC
let () = tterm "EXISTS_TAC" EXISTS_TAC
let () = tterm "X_GEN_TAC" X_GEN_TAC
let () = tterm "RAW_SUBGOAL_TAC" raw_subgoal_tac
let () = tterm "UNDISCH_TAC" UNDISCH_TAC
let () = tthm "DISJ_CASES_TAC" DISJ_CASES_TAC
let () = tthm "MATCH_ACCEPT_TAC" MATCH_ACCEPT_TAC
let () = tthm "MP_TAC" MP_TAC
let () = tthm "RAW_CONJUNCTS_TAC" raw_conjuncts_tac
let () = tthm "ACCEPT_TAC" ACCEPT_TAC
let () = tthm "MATCH_MP_TAC" MATCH_MP_TAC
let () = tthm "SUBST1_TAC" SUBST1_TAC
let () = tthm "CONTR_TAC" CONTR_TAC
let () = tthm "CHOOSE_TAC" CHOOSE_TAC
let () = tthms "REWRITE_TAC" REWRITE_TAC
let () = tthms "PURE_REWRITE_TAC" PURE_REWRITE_TAC
let () = tthms "PURE_ONCE_REWRITE_TAC" PURE_ONCE_REWRITE_TAC
let () = tthms "ONCE_REWRITE_TAC" ONCE_REWRITE_TAC
let () = tthms "ASM_REWRITE_TAC" ASM_REWRITE_TAC
let () = tthms "SIMP_TAC" SIMP_TAC
let () = tthms "ASM_SIMP_TAC" ASM_SIMP_TAC
let () = tthms "ASM_MESON_TAC" ASM_MESON_TAC
let () = tthms "MESON_TAC" MESON_TAC
let () = tthms "ASM_METIS_TAC" ASM_METIS_TAC
let () = tthms "SET_TAC" SET_TAC
let () = Hashtbl.replace tactic_table "X_CHOOSE_TAC"
  (function [Trm t; Thm th] -> X_CHOOSE_TAC t th | _ -> arity_error "X_CHOOSE_TAC")
let () = Hashtbl.replace tactic_table "SPEC_TAC"
  (function [Trm a; Trm b] -> SPEC_TAC (a, b) | _ -> arity_error "SPEC_TAC")
let () = Hashtbl.replace tactic_table "TRANS_TAC"
  (function [Thm th; Trm t] -> TRANS_TAC th t | _ -> arity_error "TRANS_TAC")
let () = Hashtbl.replace tactic_table "LABEL_TAC"
  (function [Text s; Thm th] -> LABEL_TAC s th | _ -> arity_error "LABEL_TAC")
let () = Hashtbl.replace tactic_table "CONV_TAC"
  (function [Cnv c] -> CONV_TAC c | _ -> arity_error "CONV_TAC")
let () = Hashtbl.replace tactic_table "GEN_REWRITE_TAC"
  (function [Cnvx cx; Thms l] -> GEN_REWRITE_TAC cx l
          | _ -> arity_error "GEN_REWRITE_TAC")

let () = List.iter (fun (n, c) -> Hashtbl.replace conv_table n c)
  ["ARITH_RULE", EQT_INTRO o ARITH_RULE; "NUM_REDUCE_CONV", NUM_REDUCE_CONV;
   "REAL_RAT_REDUCE_CONV", REAL_RAT_REDUCE_CONV; "INT_REDUCE_CONV", INT_REDUCE_CONV;
   "BETA_CONV", BETA_CONV; "ETA_CONV", ETA_CONV; "SYM_CONV", SYM_CONV;
   "TAUT", TAUT; "NNF_CONV", NNF_CONV; "CNF_CONV", CNF_CONV; "DNF_CONV", DNF_CONV;
   "LAMBDA_ELIM_CONV", LAMBDA_ELIM_CONV; "REAL_ARITH", REAL_ARITH;
   "NUM_RING", NUM_RING; "REAL_RING", REAL_RING; "PRENEX_CONV", PRENEX_CONV;
   "CONTRAPOS_CONV", CONTRAPOS_CONV; "GEN_BETA_CONV", GEN_BETA_CONV]

let () = List.iter (fun (n, c) -> Hashtbl.replace convx_table n c)
  ["ONCE_DEPTH_CONV", ONCE_DEPTH_CONV; "DEPTH_CONV", DEPTH_CONV;
   "REDEPTH_CONV", REDEPTH_CONV; "TOP_DEPTH_CONV", TOP_DEPTH_CONV;
   "TOP_SWEEP_CONV", TOP_SWEEP_CONV; "LAND_CONV", LAND_CONV; "RAND_CONV", RAND_CONV;
   "RATOR_CONV", RATOR_CONV; "BINDER_CONV", BINDER_CONV; "ABS_CONV", ABS_CONV;
   "BINOP_CONV", BINOP_CONV; "SUB_CONV", SUB_CONV; "I", (fun c -> c)]

let lookup tbl kind n =
  try Hashtbl.find tbl n
  with Not_found -> raise (Bad_request ("unknown " ^ kind ^ " " ^ n))

let arg_of_sx = function
  | Lst [Atom "thm"; n] -> Thm (lookup theorem_table "theorem" (name_of n))
  | Lst (Atom "thms" :: ns) ->
      Thms (List.map (fun n -> lookup theorem_table "theorem" (name_of n)) ns)
  | Lst [Atom "term"; Str s] -> Trm (parse_goal_term s)
  | Lst [Atom "conv"; n] -> Cnv (lookup conv_table "conversion" (name_of n))
  | Lst [Atom "convx"; n] -> Cnvx (lookup convx_table "conversion" (name_of n))
  | Lst [Atom "str"; Str s] -> Text s
  | _ -> raise (Bad_request "bad tactic argument")

let rec tactic_of_sx = function
  | Lst (Atom "tac" :: name :: args) ->
      (lookup tactic_table "tactic" (name_of name)) (List.map arg_of_sx args)
  | Lst [Atom "then"; a; b] -> tactic_of_sx a THEN tactic_of_sx b
  | Lst [Atom "orelse"; a; b] -> tactic_of_sx a ORELSE tactic_of_sx b
  | _ -> raise (Bad_request "bad tactic")

(* ------------------------------------------------------------------------- *)
(* Timeouts: a real-time interval timer whose handler raises Timeout.        *)
(* ------------------------------------------------------------------------- *)

let itimer_real = (Obj.magic 0 : Unix.interval_timer)

let set_timer secs =
  ignore (Unix.setitimer itimer_real
            { Unix.it_interval = 0.0; Unix.it_value = secs })

let with_timeout secs f =
  Sys.set_signal Sys.sigalrm (Sys.Signal_handle (fun _ -> raise Timeout));
  set_timer secs;
  let v = (try f () with e -> set_timer 0.0; raise e) in
  set_timer 0.0; v

(* ------------------------------------------------------------------------- *)
(* Requests.                                                                 *)
(* ------------------------------------------------------------------------- *)

(* HOL Light's printer.ml includes Format, so a bare print_string would go to
   Format's buffer, which only the toplevel flushes: write to the channel. *)
let emit id body =
  Stdlib.print_string ("\n@@ITP " ^ id ^ " " ^ body ^ "\n");
  Stdlib.flush Stdlib.stdout

let outcome status ?(extra = "") elapsed =
  Printf.sprintf "{\"status\":%s,\"time_s\":%.6f%s}" (json_string status) elapsed extra

let error_message e =
  match e with
  | Failure s -> s
  | Bad_request s -> "bad request: " ^ s
  | Timeout -> "timeout"
  | Stack_overflow -> "stack overflow"
  | Out_of_memory -> "out of memory"
  | Not_found -> "not found"
  | Invalid_argument s -> "invalid argument: " ^ s
  | e -> Printexc.to_string e

let hyps_of (asl, w) = List.map (fun (_, th) -> concl th) asl, w

(* Apply a tactic to a goal. "proved" only if the justification, replayed
   through the kernel, yields exactly the goal (up to alpha) from its
   hypotheses. *)
let apply_tactic (hyps, w) tac =
  let asl = List.map (fun h -> "", ASSUME h) hyps in
  let (mvs, _), subgoals, just = tac (asl, w) in
  if mvs <> [] then failwith "tactic left metavariables" else
  if subgoals = [] then begin
    let th = just null_inst [] in
    if not (aconv (concl th) w) then failwith "justification proves another conclusion";
    if not (forall (fun h -> exists (aconv h) hyps) (hyp th)) then
      failwith "justification uses hypotheses outside the goal";
    None
  end else Some (List.map hyps_of subgoals)

let do_apply goal_sx tac_sx =
  let goal = goal_of_sx goal_sx in
  check_goal goal;
  let hyps, w = goal in
  goal_venv := List.map (fun v -> let n, ty = dest_var v in n, pretype_of_type ty)
                 (freesl (w :: hyps));
  let tac = tactic_of_sx tac_sx in
  match apply_tactic goal tac with
  | None -> "proved", ""
  | Some gls ->
      let b = Buffer.create 512 in
      Buffer.add_string b ",\"subgoals\":[";
      List.iteri (fun i g -> if i > 0 then Buffer.add_char b ','; add_goal_json b g) gls;
      Buffer.add_char b ']';
      "subgoals", Buffer.contents b

let do_parse goal_sx =
  let goal = goal_of_sx goal_sx in
  check_goal goal;
  let b = Buffer.create 512 in
  Buffer.add_string b ",\"goal\":"; add_goal_json b goal;
  "parsed", Buffer.contents b

(* Compare two goals up to alpha and renaming of type variables: a printed
   goal parsed back gets invented type variables. *)
let canonical_tyvars tm =
  inst (List.mapi (fun i v -> mk_vartype ("itp" ^ string_of_int i), v)
          (type_vars_in_term tm)) tm

let same_up_to_tyvars (h1, w1) (h2, w2) =
  List.length h1 = List.length h2 &&
  let joint h w = itlist (curry mk_imp) h w in
  aconv (canonical_tyvars (joint h1 w1)) (canonical_tyvars (joint h2 w2))

let do_roundtrip goal_sx text_sx =
  let exact = goal_of_sx goal_sx and parsed = goal_of_sx text_sx in
  "roundtrip", Printf.sprintf ",\"same\":%b" (same_up_to_tyvars exact parsed)

let do_theorems () =
  let b = Buffer.create (1 lsl 20) in
  Buffer.add_string b ",\"theorems\":[";
  List.iteri (fun i (n, th) ->
      if i > 0 then Buffer.add_char b ',';
      Buffer.add_string b "{\"name\":"; add_json_string b n;
      Buffer.add_string b ",\"goal\":"; add_goal_json b (hyp th, concl th);
      Buffer.add_char b '}')
    (!theorems);
  Buffer.add_char b ']';
  "theorems", Buffer.contents b

let run id timeout f =
  let t = Unix.gettimeofday () in
  let elapsed () = Unix.gettimeofday () -. t in
  let body =
    try
      let status, extra = with_timeout timeout f in
      outcome status ~extra (elapsed ())
    with
    | Timeout -> outcome "timeout" (elapsed ())
    | e -> outcome "error" ~extra:(",\"error\":" ^ json_string (error_message e)) (elapsed ()) in
  emit id body

let request (text : string) =
  match (try Some (parse_sx text) with Bad_request _ -> None) with
  | Some (Lst [Atom "apply"; Atom id; Atom tmo; goal; tac]) ->
      run id (float_of_string tmo) (fun () -> do_apply goal tac)
  | Some (Lst [Atom "parse"; Atom id; Atom tmo; goal]) ->
      run id (float_of_string tmo) (fun () -> do_parse goal)
  | Some (Lst [Atom "roundtrip"; Atom id; Atom tmo; goal; text_goal]) ->
      run id (float_of_string tmo) (fun () -> do_roundtrip goal text_goal)
  | Some (Lst [Atom "theorems"; Atom id]) -> run id 600.0 do_theorems
  | Some (Lst [Atom "ping"; Atom id]) ->
      emit id (Printf.sprintf "{\"status\":\"pong\",\"pid\":%d}" (Unix.getpid ()))
  | Some (Lst (_ :: Atom id :: _)) ->
      emit id (outcome "error" ~extra:",\"error\":\"malformed request\"" 0.0)
  | _ -> emit "0" (outcome "error" ~extra:",\"error\":\"malformed request\"" 0.0)

(* A server reads requests as data, one per line, and never compiles them.
   "(return)" hands stdin back to the toplevel (benchmarks send raw phrases);
   end of input means the client is gone. *)
let serve () =
  emit "serve" "{\"status\":\"serving\"}";
  try
    while true do
      let line = input_line stdin in
      if line = "(return)" then raise Exit;
      if String.trim line <> "" then request line
    done
  with
  | Exit -> emit "return" "{\"status\":\"toplevel\"}"
  | End_of_file -> exit 0

(* ------------------------------------------------------------------------- *)
(* Zygote: fork a warm server that talks over two FIFOs in [dir]. The child  *)
(* makes the FIFOs its stdin and stdout and serves requests. The parent      *)
(* reaps finished children so they do not linger as zombies.                 *)
(* ------------------------------------------------------------------------- *)

let o_rdonly = (Obj.magic 0 : Unix.open_flag)
let o_wronly = (Obj.magic 1 : Unix.open_flag)
let wnohang = (Obj.magic 0 : Unix.wait_flag)

let rec reap () =
  match (try fst (Unix.waitpid [wnohang] (-1)) with Unix.Unix_error _ -> 0) with
  | 0 -> ()
  | _ -> reap ()

let spawn (dir : string) =
  reap ();
  Format.print_flush (); Stdlib.flush Stdlib.stdout; Stdlib.flush Stdlib.stderr;
  match Unix.fork () with
  | 0 ->
      let fd_in = Unix.openfile (Filename.concat dir "in") [o_rdonly] 0 in
      let fd_out = Unix.openfile (Filename.concat dir "out") [o_wronly] 0 in
      Unix.dup2 fd_in Unix.stdin;
      Unix.dup2 fd_out Unix.stdout;
      Unix.dup2 fd_out Unix.stderr;
      Unix.close fd_in; Unix.close fd_out;
      emit "0" (Printf.sprintf "{\"status\":\"ready\",\"pid\":%d}" (Unix.getpid ()));
      serve ()
  | pid -> emit "spawn" (Printf.sprintf "{\"status\":\"spawned\",\"pid\":%d}" pid)

end;;
