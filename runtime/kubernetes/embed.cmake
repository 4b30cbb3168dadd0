# embed.cmake - turn the bootstrap scripts into C strings:
#   cmake -DOUT=file.h -DSCRIPTS="a.sh;b.sh" -P embed.cmake
# Each script.sh becomes `static const char k8s_script_<name>[]` (dashes to
# underscores), its bytes as hex so no quoting can go wrong.
set(text "/* generated from runtime/kubernetes/bootstrap by embed.cmake; do not edit */\n")
foreach(script ${SCRIPTS})
  get_filename_component(name ${script} NAME_WE)
  string(REPLACE "-" "_" name ${name})
  file(READ ${script} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND text "static const char k8s_script_${name}[] = {${bytes}0};\n")
endforeach()
file(WRITE ${OUT}.tmp "${text}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
