#!/bin/sh
# man_page.sh SLUICE VERSION OUT: writes OUT, sluice's man page in section 1, made of the program's
# own --help texts (the general one, then each command's), so that it cannot say other than they
# do. CMake runs it after building sluice; man and groff read the result.
set -eu
sluice=$1 version=$2 out=$3

# The help in 72 columns: man indents it by 7 on an 80-column terminal, whatever width the
# builder's environment exports.
help() { COLUMNS=72 "$sluice" "$@" --help; }

# Verbatim text for roff: backslashes as \e, hyphens as \- (minus signs, as options are typed),
# and a line starting with '.' or an apostrophe (a roff request) behind \&.
verbatim() {
  printf '.nf\n'
  sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/"
  printf '.fi\n'
}

# The commands, as the general help lists them ("  migrate     build chat_message ...").
commands=$(help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }')

{
  printf '.TH SLUICE 1 "" "sluice %s" "User Commands"\n' "$version"
  printf '.SH NAME\n'
  printf 'sluice \\- pipelined ETL engine for PostgreSQL: Open WebUI'"'"'s chat to chat_message migration\n'
  printf '.SH SYNOPSIS\n'
  printf '.B sluice\n.I COMMAND\n.RI [ options ]\n.br\n.B sluice\n.I COMMAND\n.B \\-\\-help\n.br\n'
  printf '.B sluice \\-\\-version\n'
  printf '.SH DESCRIPTION\n'
  printf 'sluice runs Open WebUI'"'"'s chat \\(-> chat_message migration (alembic revision 8452d01d26d7)\n'
  printf 'as a pipeline that can be stopped and resumed at any point, in memory that does not grow\n'
  printf 'with the database. What follows is the text of \\fBsluice \\-\\-help\\fR and of each\n'
  printf 'command'"'"'s \\fB\\-\\-help\\fR.\n'
  printf '.PP\n'
  help | verbatim
  printf '.SH COMMANDS\n'
  for command in $commands; do
    printf '.SS sluice %s\n' "$command"
    help "$command" | verbatim
  done
  printf '.SH FILES\n'
  printf 'The README of the sources tells how to run sluice beside Open WebUI (Docker, Kubernetes),\n'
  printf 'its runbooks and what it does differently from the upstream migration.\n'
  printf '.SH LICENSE\n'
  printf 'MIT; see LICENSE and CHANGELOG.md in the documentation directory (share/doc/sluice).\n'
} >"$out.partial"
mv "$out.partial" "$out"
