# The browser console (app/console): C++ routes and session store, plus the front end in
# web/ (TypeScript + Preact + uPlot) built here: npm ci from the committed lock, tsc type
# check, esbuild bundle, then embed_assets.cmake compiles the files into the binary.
option(PORTCULLIS_CONSOLE "Build the browser console (needs node and npm) and embed it in the binary" ON)

set(CONSOLE_SRC ${CMAKE_CURRENT_SOURCE_DIR}/console/web)
set(CONSOLE_BIN ${CMAKE_CURRENT_BINARY_DIR}/console)
set(CONSOLE_GENERATED ${CONSOLE_BIN}/console_assets.cpp)

if(PORTCULLIS_CONSOLE)
  find_program(NPM npm REQUIRED)
  find_program(NODE node REQUIRED)
  file(GLOB_RECURSE CONSOLE_WEB_SOURCES CONFIGURE_DEPENDS ${CONSOLE_SRC}/src/*)
  set(work ${CONSOLE_BIN}/web)
  set(dist ${CONSOLE_BIN}/dist)
  # WORKING_DIRECTORY must exist before the first command runs.
  file(MAKE_DIRECTORY ${work})
  add_custom_command(
    OUTPUT ${work}/npm-ci.stamp
    COMMAND ${CMAKE_COMMAND} -E make_directory ${work}
    COMMAND ${CMAKE_COMMAND} -E copy ${CONSOLE_SRC}/package.json ${CONSOLE_SRC}/package-lock.json ${work}
    COMMAND ${NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${work}/npm-ci.stamp
    WORKING_DIRECTORY ${work}
    DEPENDS ${CONSOLE_SRC}/package.json ${CONSOLE_SRC}/package-lock.json
    COMMENT "console: npm ci (package-lock.json)")
  add_custom_command(
    OUTPUT ${dist}/index.html ${dist}/app.js ${dist}/app.css
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${work}/src
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${CONSOLE_SRC}/src ${work}/src
    COMMAND ${CMAKE_COMMAND} -E copy ${CONSOLE_SRC}/tsconfig.json ${work}
    COMMAND ${NODE} node_modules/typescript/bin/tsc --noEmit -p tsconfig.json
    COMMAND node_modules/.bin/esbuild src/main.tsx --bundle --minify --target=es2020
            --jsx=automatic --jsx-import-source=preact --log-level=warning --outfile=${dist}/app.js
    COMMAND ${CMAKE_COMMAND} -E copy ${CONSOLE_SRC}/index.html ${dist}/index.html
    WORKING_DIRECTORY ${work}
    DEPENDS ${work}/npm-ci.stamp ${CONSOLE_WEB_SOURCES} ${CONSOLE_SRC}/tsconfig.json ${CONSOLE_SRC}/index.html
    COMMENT "console: tsc type check and esbuild bundle")
  set(CONSOLE_DIST_ARG -DDIST=${dist})
  set(CONSOLE_DIST_FILES ${dist}/index.html ${dist}/app.js ${dist}/app.css)
else()
  set(CONSOLE_DIST_ARG "")
  set(CONSOLE_DIST_FILES "")
endif()

add_custom_command(
  OUTPUT ${CONSOLE_GENERATED}
  COMMAND ${CMAKE_COMMAND} -DOUT=${CONSOLE_GENERATED} ${CONSOLE_DIST_ARG} -P ${CMAKE_CURRENT_SOURCE_DIR}/console/embed_assets.cmake
  DEPENDS ${CONSOLE_DIST_FILES} ${CMAKE_CURRENT_SOURCE_DIR}/console/embed_assets.cmake
  COMMENT "console: embedding the built assets")

target_sources(portcullis_app PRIVATE
  console/session_store.cpp
  console/security_headers.cpp
  console/assets.cpp
  console/console.cpp
  ${CONSOLE_GENERATED})
